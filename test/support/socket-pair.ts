/** A connected TCP pair on loopback: `accepted` is the server's side (as a proxy gets it), `client` the peer. */
import net from 'node:net';

export async function acceptedPair(opts: net.ServerOpts = {}): Promise<{ accepted: net.Socket; client: net.Socket }> {
  const server = net.createServer(opts);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const socket = await accepted;
  server.close();
  return { accepted: socket, client };
}
