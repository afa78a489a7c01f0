// The undici internals the Node preload bundles (src/preload/env-proxy-undici.cts),
// typed as far as it uses them.
declare module 'undici/lib/dispatcher/dispatcher.js' {
  class Dispatcher {}
  export = Dispatcher;
}
declare module 'undici/lib/api/index.js' {
  const api: Record<string, unknown>;
  export = api;
}
declare module 'undici/lib/dispatcher/env-http-proxy-agent.js' {
  import { EnvHttpProxyAgent } from 'undici';
  export = EnvHttpProxyAgent;
}
declare module 'undici/lib/dispatcher/client.js' {
  import { Client } from 'undici';
  export = Client;
}
