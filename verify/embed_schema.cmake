# Turns a schema file into a C++ source holding its exact bytes.
# Script mode: cmake -DSCHEMA=... -DOUT=... -P embed_schema.cmake
file(READ "${SCHEMA}" text)
file(WRITE "${OUT}.tmp"
  "#include \"verify/verify.h\"\nnamespace fgraph::verify {\n"
  "std::string_view extraction_schema_v1() {\n"
  "  static constexpr char kText[] = R\"FGSCHEMA(${text})FGSCHEMA\";\n"
  "  return {kText, sizeof(kText) - 1};\n}\n}  // namespace fgraph::verify\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
