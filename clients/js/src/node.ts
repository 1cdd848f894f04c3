/*
 * node.ts — the package for Node (build/js/fieldsync.node.js): the same
 * surface as index.ts, with /v1/live opened by live-node.ts (Node 20 has no
 * WebSocket).  Browsers load index.ts, which never imports node:*.
 */
import { setDefaultLive } from "./live.js";
import { nodeWebSocket } from "./live-node.js";

setDefaultLive(nodeWebSocket);

export * from "./index.js";
