// undici's HTTP/1.1 Agent imported on its own (see core/gateway/listen.ts);
// the package's types describe it under its index.
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}
