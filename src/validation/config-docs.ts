/**
 * What each config field means, keyed by its path (`services[].timeouts.idleMs`). The JSON Schema
 * (`config/schema.json`) and the reference (`docs/config-reference.md`) take their descriptions
 * from here; a test fails when a field has none or an entry names no field.
 */
export const FIELD_DOCS: Readonly<Record<string, string>> = {
  $schema: 'The JSON Schema this file follows, for editors (for example "./schema.json"); ignored by the proxy.',

  admin: 'Opens the admin API (control, status, metrics, events) on its own listener. Absent: no admin API.',
  'admin.host': 'Address the admin API listens on. Anything but a loopback address needs `token`.',
  'admin.port': 'Port of the admin API; 0 lets the system pick one.',
  'admin.token': 'Bearer token every change (weights, cut-over, rollback) must carry. Required unless `host` is a loopback address.',
  'admin.readToken':
    'Bearer token reads must carry (the `token` works too), except `/healthz` and `/readyz`. Absent: reads are open (without any token, only to loopback Host names).',
  'admin.maxEventStreams': 'Event streams (`GET /v1/events`) open at once; one more is answered 503 `too_many_streams`.',

  accessLog:
    'One JSON line per request: time, requestId, client, method, path, status, bytesIn, bytesOut, durationMs, complete, service, group, instance, retries, redispatched, sticky. Written asynchronously, off the request\'s path. Absent: no access log.',
  'accessLog.path': 'A file to append to (created with its directory), or `-` for stdout.',
  'accessLog.sample': 'Share of requests logged, from 0 to 1 (each request drawn at random).',

  state: 'Where the desired state (weights, history, cut-overs) is kept so it survives a restart. Absent: the weights are the config\'s and read-only.',
  'state.store':
    'The store: `file` (one JSON file, written atomically; one proxy) or `etcd` (shared by every replica: each change is a compare-and-set, every replica watches and applies it).',
  'state.path': '`file` only: the state file, relative to the working directory. Default `var/state.json`.',
  'state.endpoints': '`etcd` only, required: the etcd members as `http://host:port`; a call goes to another member when one fails.',
  'state.prefix': '`etcd` only: every key of this proxy fleet lives under it (`{prefix}state`, `{prefix}replicas/{id}`, `{prefix}drains/...`). Default `/zdd/`.',
  'state.cachePath':
    '`etcd` only: the last applied state, written atomically after each change; a replica that starts while etcd is down serves from it. Default `var/state-cache.json`.',
  'state.replicaId': '`etcd` only: this replica\'s name in `/v1/cluster` and its etcd keys; unique per replica. Default `<hostname>-<pid>`.',
  'state.leaseSeconds':
    '`etcd` only: TTL of the lease this replica\'s membership and drain reports live under; a replica gone this long leaves the cluster view and no cut-over waits for it. Default 10.',
  'state.timeoutMs': '`etcd` only: how long one etcd call may take; a change that cannot be written in time is answered 503 `store_unavailable`. Default 2000.',

  dns: 'How SRV names (`groups[].srv`) are resolved.',
  'dns.servers': 'DNS servers as `ip` or `ip:port` (port 53 when absent), tried in order. Empty: the system resolvers.',
  'dns.timeoutMs': 'How long one DNS query may take before the next server is tried.',
  'dns.refreshMinSeconds': 'Shortest time between two lookups of a name, whatever its TTL.',
  'dns.refreshMaxSeconds': 'Longest time between two lookups of a name, whatever its TTL.',

  trustedProxies:
    'Addresses or CIDRs of the load balancers in front. From them `X-Forwarded-*`, `Forwarded`, `X-Real-IP` and `X-Request-Id` are kept and extended, and the client address (`sticky.by: "ip"`) is read from `X-Forwarded-For`; from anyone else they are replaced or dropped.',

  services: 'The services the proxy fronts: each has a listener, version groups and their weights.',
  'services[].name': 'The service\'s name in the admin API, the CLI, metrics and logs.',
  'services[].listen': 'Where the service accepts clients.',
  'services[].listen.host': 'Address to listen on (an IP address or `localhost`).',
  'services[].listen.port':
    'Port to listen on; 0 lets the system pick one. Services sharing an address and port must each declare `vhosts`.',
  'services[].listen.maxConnections': 'Client connections open at once on this listener (the smallest value of the services sharing it); more are closed at once.',
  'services[].listen.tls':
    'TLS on this listener: the service\'s certificate (the default of the listener when services share it, and the certificate of those of its `vhosts` without their own). TLS 1.2+, ECDHE with AEAD ciphers only. Re-read at every reload. Services sharing a listener must all use TLS or none.',
  'services[].listen.tls.cert': 'PEM file with the certificate, then its intermediates (`${VAR}` allowed; relative to the working directory).',
  'services[].listen.tls.key': 'PEM file with the certificate\'s private key.',
  'services[].listen.tls.minVersion': 'The oldest TLS version accepted: `TLSv1.2` or `TLSv1.3`.',
  'services[].listen.http2': 'On a TLS listener, offer HTTP/2 through ALPN (clients without it use HTTP/1.1). Upstream requests stay HTTP/1.1.',
  'services[].listen.h2c': 'On a plain listener, also accept HTTP/2 without TLS (prior knowledge; no `Upgrade: h2c`). Off by default: browsers never use it, and it is for trusted networks.',
  'services[].vhosts':
    'Host names this service answers on a listener shared with other services (the request\'s Host, or an absolute-form target\'s authority, picks the service). Empty: the listener is the service\'s alone. An entry may be `{"name": …, "tls": {"cert": …, "key": …}}` to bring its own certificate, chosen by SNI.',
  'services[].vhosts[].name': 'The host name (no port).',
  'services[].vhosts[].tls': 'This host\'s own certificate on a TLS listener, chosen when the client\'s SNI names it.',
  'services[].vhosts[].tls.cert': 'PEM file with the certificate, then its intermediates.',
  'services[].vhosts[].tls.key': 'PEM file with the certificate\'s private key.',
  'services[].groups': 'The version groups (blue/green, stable/canary) traffic is split between.',
  'services[].groups[].name': 'The group\'s name, as weights, overrides and `x-zdd-group` name it.',
  'services[].groups[].srv': 'A DNS SRV name whose targets are the group\'s instances (Mesos-DNS, Consul, Kubernetes headless services). Either this or `instances`.',
  'services[].groups[].instances': 'The group\'s instances as `host:port` (IPv6 as `[::1]:9000`). Either this or `srv`.',
  'services[].groups[].backends': 'The older name of `instances`, still read.',
  'services[].weights':
    'Share of new clients per group, as non-negative numbers by group name (`{"0.9": 80, "1.0": 20}`); at least one above 0. Absent: equal weights. A saved state\'s weights win over these.',
  'services[].sticky': 'How a client keeps its group: rendezvous hashing of a client key, so raising a canary\'s weight only moves clients into it.',
  'services[].sticky.by':
    '`cookie` (issued on the first answer), `header` (a client id the caller sends), `ip` (the client address, through `trustedProxies`) or `none` (every request chosen anew).',
  'services[].sticky.cookie': 'Name of the sticky cookie (`HttpOnly; SameSite=Lax; Path=/`).',
  'services[].sticky.header': 'Name of the request header holding a client id, for `by: "header"`.',
  'services[].override': 'Lets a request name its group, for testers. Off unless `header` or `cookie` is set.',
  'services[].override.header': 'Request header naming a group (for example `x-zdd-group`); "" turns it off.',
  'services[].override.cookie': 'Cookie naming a group (for example `zdd_group`); "" turns it off.',
  'services[].override.allow':
    '`weighted`: only groups with weight above 0; `any`: weight-0 groups too (a dark launch), which needs `secret`. A group being drained is never reachable.',
  'services[].override.secret':
    'At least 16 characters an override must also carry, in `x-zdd-override-secret` or as the cookie value `GROUP:SECRET` (compared in constant time, never sent to the backend).',
  'services[].healthChecks': 'Marathon health checks, as pasted from an app definition: an instance that fails them gets no traffic.',
  'services[].healthChecks[].protocol': 'How to probe: HTTP(S) expects a 2xx/3xx answer, TCP a connection. MESOS_* variants are probed the same way from the proxy.',
  'services[].healthChecks[].path': 'Path an HTTP(S) probe requests.',
  'services[].healthChecks[].portIndex': 'Accepted from Marathon; the proxy knows one port per instance and probes that one.',
  'services[].healthChecks[].port': 'A fixed port to probe instead of the instance\'s own.',
  'services[].healthChecks[].command': 'Accepted and ignored: COMMAND checks run inside Mesos tasks, not from a proxy.',
  'services[].healthChecks[].command.value': 'The command Marathon would run; ignored.',
  'services[].healthChecks[].ipProtocol': 'Accepted and ignored: the proxy probes the address discovery reported.',
  'services[].healthChecks[].gracePeriodSeconds': 'After an instance appears, failures are not counted for this long (it is still starting).',
  'services[].healthChecks[].intervalSeconds': 'Time between two probes of an instance.',
  'services[].healthChecks[].timeoutSeconds': 'A probe without an answer within this time failed.',
  'services[].healthChecks[].maxConsecutiveFailures': 'Failures in a row after which the instance is unhealthy (0: never).',
  'services[].healthChecks[].ignoreHttp1xx': 'Treat a 1xx answer as no answer yet (Marathon\'s flag) rather than a failure.',
  'services[].healthChecks[].delaySeconds': 'Wait before an instance\'s first probe.',
  'services[].readinessChecks': 'Marathon readiness checks: an instance gets traffic only once it answers ready.',
  'services[].readinessChecks[].name': 'The check\'s name, shown in status.',
  'services[].readinessChecks[].protocol': 'HTTP or HTTPS.',
  'services[].readinessChecks[].path': 'Path the probe requests.',
  'services[].readinessChecks[].portName': 'Accepted from Marathon; the proxy probes the instance\'s own port.',
  'services[].readinessChecks[].intervalSeconds': 'Time between two probes until the instance is ready.',
  'services[].readinessChecks[].timeoutSeconds': 'A probe without an answer within this time failed.',
  'services[].readinessChecks[].httpStatusCodesForReady': 'Status codes that mean ready.',
  'services[].readinessChecks[].preserveLastResponse': 'Accepted from Marathon; the proxy keeps no probe answers.',
  'services[].retries': 'How many times a failed attempt is tried again on another instance (only for `retryMethods`, or when nothing was sent).',
  'services[].retryMethods': 'Methods retried after a reset (on instances not tried yet) or a timeout (once); a refused connection is retried whatever the method.',
  'services[].retryBudgetPercent': 'Retries allowed, as a percentage of recent requests, so retries cannot multiply an outage.',
  'services[].outlierDetection': 'Passive health: instances whose requests fail are ejected for a while (Envoy\'s outlier detection).',
  'services[].outlierDetection.consecutiveFailures': 'Connection failures, resets or timeouts in a row that eject an instance (0: never).',
  'services[].outlierDetection.consecutive5xx': '5xx answers in a row that eject an instance (0: never).',
  'services[].outlierDetection.baseEjectionSeconds': 'First ejection\'s length; each further one lasts one more base.',
  'services[].outlierDetection.maxEjectionSeconds': 'Longest ejection; after this long without one, the count starts over.',
  'services[].outlierDetection.maxEjectionPercent': 'Most of a group that may be ejected at once (the panic guard); an instance refusing connections may always go while another can serve.',
  'services[].outlierDetection.unejectOnPassingCheck': 'An ejected instance is back at its first passing health check.',
  'services[].redispatch': 'A request whose group has no live instance, whose connection was refused, or (for `retryMethods`, without a body) whose connection was reset, with no other instance of the group left to try, goes to another group by weight, once.',
  'services[].limits': 'Per instance and proxy process (a worker counts as one): how much an instance is sent at once.',
  'services[].limits.connectionsPerInstance': 'Requests sent to one instance at once.',
  'services[].limits.queuePerInstance': 'Requests waiting for one of those connections; beyond it, another instance or 503 `overloaded`.',
  'services[].limits.requestBufferBytes': 'Request bodies up to this size are read whole before a connection is taken (a slow uploader holds none); larger ones are streamed.',
  'services[].slowStartSeconds': 'A new or returning instance\'s share ramps up over this long (0: full share at once).',
  'services[].timeouts': 'Time limits of a request\'s exchange with an instance and with its client.',
  'services[].timeouts.connectMs': 'Connecting to an instance.',
  'services[].timeouts.headersMs': 'From sending a request to the answer\'s headers.',
  'services[].timeouts.idleMs': 'Between two chunks of an answer\'s body.',
  'services[].timeouts.queueMs': 'Waiting for a connection slot (`limits`) before 503 `overloaded`.',
  'services[].timeouts.sendMs': 'A client that reads nothing of its answer for this long is closed, and its upstream request cut.',
  'services[].exposeGroupHeader': 'Add `x-zdd-group: <group>` to answers (for canary-check and testers).',
  'services[].observedShare': 'Split accuracy: each group\'s observed share of requests and of distinct clients over a window, next to its configured share (`GET /v1/services/{name}`, `status`, `zdd_observed_share`).',
  'services[].observedShare.windowSeconds': 'The window the shares are observed over; a drift is judged only once the weights have been the same for a whole window.',
  'services[].observedShare.maxDrift': 'A group whose share of distinct clients is this far (0..1) from its configured share is drifting: event `split_drift`, and `split_drift_ended` when it is back.',
  'services[].observedShare.minClients': 'Fewer distinct clients in the window than this: no drift is judged.',
  'services[].drainSeconds': 'After a cut-over, how long requests on the old group may run before their connections are closed.',
}
