// tests/support: finds the Neo4j that the ctest fixture `neo4j` started.
//
// The fixture (tests/graph/CMakeLists.txt: neo4j_fixture_start / neo4j_fixture_stop)
// runs `tools/neo4j start` with FGRAPH_HOME=<build>/test-home on free ports and writes
// <build>/test-home/neo4j.env (KEY=VALUE lines: FGRAPH_NEO4J_URL, _USER, _PASSWORD, _PID).
// A test that needs Neo4j declares FIXTURES_REQUIRED neo4j (use fgraph_add_neo4j_test in
// tests/graph/CMakeLists.txt) and calls neo4j_test_env(), which throws (failing the test
// loudly) when the file is missing or the server does not answer.
//
// The server is shared by tests running in parallel: isolate data by a unique id prefix
// per test (unique_test_prefix()), never wipe the whole database.
#pragma once

#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "core/core.h"

#ifndef FGRAPH_NEO4J_TEST_ENV
#error "define FGRAPH_NEO4J_TEST_ENV (the fixture's neo4j.env path); see fgraph_add_neo4j_test"
#endif

namespace fgraph::testing {

struct Neo4jTestEnv {
  std::string url;       // http://127.0.0.1:PORT
  std::string user;      // neo4j
  std::string password;  // the fixture's password
  std::string pid;       // the server's process id (for diagnostics)
};

inline Neo4jTestEnv neo4j_test_env(const std::string& path = FGRAPH_NEO4J_TEST_ENV) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("Neo4j test server not found: " + path +
                             " is missing. Run the tests through ctest so that the `neo4j` "
                             "fixture starts it (tools/neo4j), and check its log.");
  }
  std::map<std::string, std::string> kv;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  Neo4jTestEnv env{kv["FGRAPH_NEO4J_URL"], kv["FGRAPH_NEO4J_USER"], kv["FGRAPH_NEO4J_PASSWORD"],
                   kv["FGRAPH_NEO4J_PID"]};
  if (env.url.empty() || env.password.empty()) {
    throw std::runtime_error("Neo4j test env file " + path + " lacks URL or password");
  }
  auto transport = make_curl_transport();
  HttpRequest probe;
  probe.url = env.url + "/";
  probe.headers = {{"Accept", "application/json"}};
  probe.timeout = std::chrono::milliseconds(10000);
  auto r = transport->send(probe);
  if (!r || r->status != 200) {
    throw std::runtime_error("Neo4j test server at " + env.url + " does not answer GET /: " +
                             (r ? "HTTP " + std::to_string(r->status) : r.error().describe()));
  }
  return env;
}

// A prefix unique to this process and call, for ids of test data ("t1a2b3c4-").
inline std::string unique_test_prefix() { return "t" + random_hex(6) + "-"; }

}  // namespace fgraph::testing
