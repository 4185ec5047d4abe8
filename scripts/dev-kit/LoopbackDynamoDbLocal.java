// DynamoDB Local's own server, built as its ServerRunner builds it, but listening on 127.0.0.1 only: the jar's command line names no host.

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Takes the jar's own arguments (-port, -inMemory, -dbPath, -sharedDb, ...). Exits 2, naming what it missed, when the jar no
 * longer has the shape this relies on, so a newer DynamoDB Local fails loudly instead of listening on every interface.
 */
public final class LoopbackDynamoDbLocal {
  private static final String HOST = "127.0.0.1";

  private LoopbackDynamoDbLocal() {}

  public static void main(String[] args) throws Exception {
    // ServerRunner.main is this call followed by start(): the same arguments, handler and storage.
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Server jetty;
    try {
      jetty = bindToLoopback(proxy);
    } catch (IllegalStateException unexpected) {
      System.err.println("LoopbackDynamoDbLocal: cannot bind DynamoDB Local to " + HOST + ": " + unexpected.getMessage());
      System.exit(2);
      return;
    }
    proxy.start();
    // start() does not throw for a port it cannot bind: it says so on stderr and stops the server.
    if (!jetty.isStarted()) System.exit(1);
  }

  /** Sets every connector's host before Jetty binds it; `new Server(port)`, what DynamoDBProxyServer does, leaves it null: every interface. */
  private static Server bindToLoopback(DynamoDBProxyServer proxy) throws IllegalAccessException {
    Server jetty = jettyOf(proxy);
    Connector[] connectors = jetty.getConnectors();
    if (connectors.length == 0) throw new IllegalStateException("its Jetty server has no connector");
    for (Connector connector : connectors) {
      if (!(connector instanceof ServerConnector network)) {
        throw new IllegalStateException("its Jetty connector is a " + connector.getClass().getName() + ", not a ServerConnector");
      }
      network.setHost(HOST);
    }
    return jetty;
  }

  /** DynamoDBProxyServer keeps its Jetty server in a private field and offers no getter. */
  private static Server jettyOf(DynamoDBProxyServer proxy) throws IllegalAccessException {
    try {
      var field = DynamoDBProxyServer.class.getDeclaredField("server");
      field.setAccessible(true);
      if (field.get(proxy) instanceof Server server) return server;
      throw new IllegalStateException("DynamoDBProxyServer.server is not a Jetty Server");
    } catch (NoSuchFieldException missing) {
      throw new IllegalStateException("DynamoDBProxyServer has no field `server`");
    }
  }
}
