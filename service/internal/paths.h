// Paths a client names (a drop, an upload's drop and file name), checked before anything
// touches the disk.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/core.h"

namespace fgraph::service {

// `relative` joined to `root`, when it stays inside: kInvalidInput, touching nothing,
// for an empty path, an absolute one, a component that is empty, "." or "..", a NUL,
// control character (< 0x20, DEL) or backslash, or a path that resolves outside the
// root through a symlink (every existing component is resolved). `root` must exist.
Result<std::filesystem::path> resolve_under(const std::filesystem::path& root,
                                            std::string_view relative);

}  // namespace fgraph::service
