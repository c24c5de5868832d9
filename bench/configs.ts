/** Generated configuration for the proxies under test; every address is on loopback. */

/** One zdd-proxy group and its instances (`127.0.0.1:port`). */
export interface BenchGroup {
  readonly name: string
  readonly instances: readonly string[]
}

/** Weights for `count` groups: 80/20 for two, otherwise 80 for the first and 20 shared by the rest. */
export function benchWeights(names: readonly string[]): Record<string, number> {
  const weights: Record<string, number> = {}
  names.forEach((name, index) => (weights[name] = index === 0 ? 80 : 20 / (names.length - 1)))
  return weights
}

/**
 * zdd-proxy config as a user would write it for a canary: sticky cookie (so a client without one
 * gets a fresh id and a Set-Cookie), x-zdd-group on every response, one retry, and the admin
 * listener (metrics) on an OS-picked loopback port. `serviceOverrides` replaces service fields
 * (feature A/B in side-by-side runs).
 */
export function zddConfig(
  groups: readonly BenchGroup[],
  serviceOverrides: Readonly<Record<string, unknown>> = {},
  topOverrides: Readonly<Record<string, unknown>> = {},
): unknown {
  return {
    ...topOverrides,
    admin: { host: '127.0.0.1', port: 0 },
    services: [
      {
        name: 'bench',
        listen: { host: '127.0.0.1', port: 0 },
        // `backends`, the older name of `instances`: builds from before the rename read it too (--baseline).
        groups: groups.map((group) => ({ name: group.name, backends: group.instances })),
        weights: benchWeights(groups.map((group) => group.name)),
        sticky: { by: 'cookie', cookie: 'zdd_client' },
        exposeGroupHeader: true,
        retries: 1,
        drainSeconds: 1,
        ...serviceOverrides,
      },
    ],
  }
}

/**
 * HAProxy with one thread, keep-alive on both sides, X-Forwarded-For added; with `pem` (a
 * certificate and key in one file) TLS 1.2+ with ALPN h2 and http/1.1.
 */
export function haproxyConfig(port: number, backend: string, pem?: string): string {
  const tls = pem === undefined ? '' : ` ssl crt ${pem} alpn h2,http/1.1 ssl-min-ver TLSv1.2`
  return `global
  nbthread 1
  maxconn 4096
${pem === undefined ? '' : '  tune.ssl.default-dh-param 2048\n'}
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  option forwardfor

frontend bench
  bind 127.0.0.1:${port}${tls}
  default_backend backends

backend backends
  http-reuse always
  server b1 ${backend}
`
}

/** nginx with one worker, upstream keep-alive, X-Forwarded-For added, no access log. */
export function nginxConfig(prefix: string, port: number, backend: string): string {
  return `worker_processes 1;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream backends {
    server ${backend};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`
}
