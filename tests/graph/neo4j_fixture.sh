#!/usr/bin/env bash
# ctest fixture: start|stop HOME. Starts tools/neo4j with FGRAPH_HOME=HOME on free ports
# and writes HOME/neo4j.env for tests/support/neo4j_test_env.h; stop ends it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
action="$1"
export FGRAPH_HOME="$2"
export FGRAPH_NEO4J_PORT=0 FGRAPH_NEO4J_BOLT_PORT=0
# A loaded CI machine can take minutes to start the JVM.
export FGRAPH_NEO4J_START_TIMEOUT="${FGRAPH_NEO4J_START_TIMEOUT:-600}"
export FGRAPH_NEO4J_PASSWORD="${FGRAPH_TEST_NEO4J_PASSWORD:-fgraph-test-password}"
mkdir -p "$FGRAPH_HOME"
case "$action" in
  start)
    rm -f "$FGRAPH_HOME/neo4j.env"
    # Each suite run starts from an empty database.
    "$ROOT/tools/neo4j" stop >/dev/null
    rm -rf "$FGRAPH_HOME/neo4j"
    "$ROOT/tools/neo4j" start
    "$ROOT/tools/neo4j" env > "$FGRAPH_HOME/neo4j.env.tmp"
    mv "$FGRAPH_HOME/neo4j.env.tmp" "$FGRAPH_HOME/neo4j.env"
    ;;
  stop)
    rm -f "$FGRAPH_HOME/neo4j.env"
    "$ROOT/tools/neo4j" stop
    ;;
  *) echo "usage: neo4j_fixture.sh start|stop HOME" >&2; exit 2 ;;
esac
