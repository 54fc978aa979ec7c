# Embeds the web console's stylesheet and script (service/ui/) into a C++ source.
# cmake -DUI_DIR=... -DOUT=... -P embed_ui.cmake
file(READ "${UI_DIR}/console.css" css)
file(READ "${UI_DIR}/console.js" js)
set(body "// Generated from service/ui/ by service/embed_ui.cmake. Do not edit.\n")
string(APPEND body "namespace fgraph::service::console_assets {\n")
string(APPEND body "extern const char* const kCss = R\"FGASSET(${css})FGASSET\";\n")
string(APPEND body "extern const char* const kJs = R\"FGASSET(${js})FGASSET\";\n")
string(APPEND body "}  // namespace fgraph::service::console_assets\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
