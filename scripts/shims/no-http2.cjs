// Stand-in for node:http2 inside undici (see scripts/build.mjs): undici
// catches this and runs as on a Node built without HTTP/2.
throw new Error('node:http2 is not bundled for undici: agentauth speaks HTTP/1.1 to upstreams');
