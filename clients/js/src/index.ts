/*
 * index.ts — the package's public surface (clients/js/README.md).
 */
export { open, Client } from "./client.js";
export { memoryStorage, type Storage, type Tx, type Table } from "./storage.js";
export { indexedDBStorage } from "./idb.js";
export * from "./types.js";
