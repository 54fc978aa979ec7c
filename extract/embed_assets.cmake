# Embeds the prompt, schema and price table into a C++ source as raw strings.
# cmake -DSCHEMAS_DIR=... -DOUT=... -P embed_assets.cmake
file(READ "${SCHEMAS_DIR}/prompts/extract.v1.txt" prompt)
file(READ "${SCHEMAS_DIR}/extraction.v1.json" schema)
file(READ "${SCHEMAS_DIR}/prices.json" prices)
set(body "// Generated from schemas/ by extract/embed_assets.cmake. Do not edit.\n")
string(APPEND body "namespace fgraph::extract::assets {\n")
string(APPEND body "extern const char* const kPromptExtractV1 = R\"FGASSET(${prompt})FGASSET\";\n")
string(APPEND body "extern const char* const kSchemaExtractionV1 = R\"FGASSET(${schema})FGASSET\";\n")
string(APPEND body "extern const char* const kPrices = R\"FGASSET(${prices})FGASSET\";\n")
string(APPEND body "}  // namespace fgraph::extract::assets\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
