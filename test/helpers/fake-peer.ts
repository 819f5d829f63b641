/**
 * A tiny in-process peer that speaks remoting frames, for tests of the transport and the client
 * that need a server to misbehave on cue (hold, stay silent, send garbage) with no broker.
 */
import net from "node:net";
import { once } from "node:events";
import { FrameDecoder } from "../../src/protocol/frame.js";
import {
  RESPONSE_FLAG,
  decodeCommand,
  encodeCommand,
  type RemotingCommand,
} from "../../src/protocol/remoting-command.js";

/**
 * What the peer does with each request: answer it through `reply` (a SUCCESS response with this
 * request's opaque, overridden by the fields given; ignored once the socket is gone), later or
 * never, or act on the socket itself. Responses the client sends (to server requests) are emitted
 * on the socket as "client-response" instead.
 */
export type Behaviour = (
  cmd: RemotingCommand,
  reply: (r: Partial<RemotingCommand>) => void,
  socket: net.Socket,
) => void;

/** A running peer. */
export interface FakePeer {
  /** "127.0.0.1:PORT". */
  address: string;
  server: net.Server;
  /** The open client connections. */
  sockets: Set<net.Socket>;
  /** Destroys every connection and stops listening. */
  close(): void;
}

/**
 * Starts a bare TCP peer on an ephemeral loopback port: `onSocket` gets each connection as it is
 * accepted and decides everything (read or pause, answer or not). Socket errors are ignored
 * unless `onSocket` listens for them.
 */
export async function startRawPeer(onSocket: (socket: net.Socket) => void): Promise<FakePeer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    onSocket(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    server,
    sockets,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Starts a peer on an ephemeral loopback port that lets `behaviour` decide what to answer. */
export function startPeer(behaviour: Behaviour): Promise<FakePeer> {
  return startRawPeer((socket) => serveRequests(socket, behaviour));
}

/**
 * Reads remoting frames from `socket` and lets `behaviour` answer each request: what startPeer
 * does with every connection, for a raw peer that misbehaves on some connections only.
 */
export function serveRequests(socket: net.Socket, behaviour: Behaviour): void {
  const decoder = new FrameDecoder();
  socket.on("data", (chunk: Buffer) => {
    for (const payload of decoder.push(chunk)) {
      const cmd = decodeCommand(payload);
      if (cmd.flag & RESPONSE_FLAG) {
        socket.emit("client-response", cmd);
        continue;
      }
      const reply = (r: Partial<RemotingCommand>): void => {
        if (socket.destroyed) return;
        socket.write(
          encodeCommand({
            code: 0,
            language: "JAVA",
            version: 413,
            flag: RESPONSE_FLAG,
            extFields: {},
            ...r,
            opaque: cmd.opaque,
          }),
        );
      };
      behaviour(cmd, reply, socket);
    }
  });
}
