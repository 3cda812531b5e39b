// Prints a TCP port that is free on 127.0.0.1 right now.
import net from "node:net";

const srv = net.createServer();
srv.listen(0, "127.0.0.1", () => {
  const { port } = srv.address();
  srv.close(() => console.log(port));
});
