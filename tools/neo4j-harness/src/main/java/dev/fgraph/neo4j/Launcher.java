// The development Neo4j: runs an in-process Neo4j 5.26 server (neo4j-harness) until the
// process is told to stop (SIGTERM from tools/neo4j stop).
//
// Configuration comes from the environment (tools/neo4j sets it):
//   FGRAPH_NEO4J_HOME       data directory (neo4j home), persistent across restarts
//   FGRAPH_NEO4J_PORT       HTTP port on 127.0.0.1; 0 picks a free one
//   FGRAPH_NEO4J_BOLT_PORT  Bolt port on 127.0.0.1; 0 picks a free one
//   FGRAPH_NEO4J_PASSWORD   password of the `neo4j` user (authentication is on)
//   FGRAPH_NEO4J_READY_FILE written once the server answers and the password is set;
//                           holds `url=...`, `bolt=...`, `version=...` lines
package dev.fgraph.neo4j;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.kernel.internal.Version;
import org.neo4j.server.configuration.ConfigurableServerModules;
import org.neo4j.server.configuration.ServerSettings;

public final class Launcher {
  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return (v == null || v.isEmpty()) ? fallback : v;
  }

  public static void main(String[] args) throws Exception {
    Path home = Path.of(env("FGRAPH_NEO4J_HOME", "neo4j-home")).toAbsolutePath();
    int httpPort = Integer.parseInt(env("FGRAPH_NEO4J_PORT", "7474"));
    int boltPort = Integer.parseInt(env("FGRAPH_NEO4J_BOLT_PORT", "7687"));
    String password = env("FGRAPH_NEO4J_PASSWORD", "fgraph-dev-password");
    String readyFile = env("FGRAPH_NEO4J_READY_FILE", "");
    if (password.length() < 8) {
      System.err.println("FGRAPH_NEO4J_PASSWORD must have at least 8 characters");
      System.exit(2);
    }
    Files.createDirectories(home);

    long started = System.nanoTime();
    // The harness works in a random subfolder of the given directory and deletes it on
    // close; pointing neo4j_home at our own folder keeps the data across restarts.
    Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(home.resolve("harness-tmp"))
        .withConfig(GraphDatabaseSettings.neo4j_home, home)
        .withConfig(GraphDatabaseSettings.auth_enabled, true)
        .withConfig(GraphDatabaseSettings.pagecache_memory, 128L * 1024 * 1024)
        .withConfig(HttpConnector.enabled, true)
        .withConfig(HttpConnector.listen_address, new SocketAddress("127.0.0.1", httpPort))
        .withConfig(HttpsConnector.enabled, false)
        .withConfig(BoltConnector.enabled, true)
        .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", boltPort))
        .withConfig(ServerSettings.http_enabled_modules,
            EnumSet.of(ConfigurableServerModules.TRANSACTIONAL_ENDPOINTS,
                ConfigurableServerModules.QUERY_API_ENDPOINTS))
        .withConfig(ServerSettings.http_transaction_timeout, Duration.ofSeconds(60))
        .build();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.println("neo4j: shutting down");
      neo4j.close();
    }));

    // The embedded API bypasses authentication, so the password can be set (and reset
    // after a change of FGRAPH_NEO4J_PASSWORD) before anyone connects with it.
    GraphDatabaseService system = neo4j.databaseManagementService().database("system");
    try {
      system.executeTransactionally(
          "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
          Map.of("password", password));
    } catch (RuntimeException e) {
      // Unchanged password on a restart: "Old password and new password cannot be the same".
      if (!String.valueOf(e.getMessage()).contains("cannot be the same")) throw e;
    }

    double seconds = (System.nanoTime() - started) / 1e9;
    String version = Version.getNeo4jVersion();
    String report = "url=" + neo4j.httpURI() + "\n"
        + "bolt=" + neo4j.boltURI() + "\n"
        + "version=" + version + "\n"
        + "startup_seconds=" + String.format("%.1f", seconds) + "\n";
    System.out.print("neo4j: ready\n" + report);
    System.out.flush();
    if (!readyFile.isEmpty()) {
      Path tmp = Path.of(readyFile + ".tmp");
      Files.writeString(tmp, report, StandardCharsets.UTF_8);
      Files.move(tmp, Path.of(readyFile), StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    }
    Thread.currentThread().join();
  }
}
