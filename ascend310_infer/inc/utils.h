/*
 * File and command-line helpers of the CenterFace Ascend 310 runner (POSIX, C++14, no MindSpore types).
 */
#ifndef CENTERFACE_ASCEND310_INFER_INC_UTILS_H_
#define CENTERFACE_ASCEND310_INFER_INC_UTILS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct RunnerOptions {
  std::string mindir_path;
  std::string input_path;
  std::string output_path;
  uint32_t device_id = 0;
};

// Usage text printed on a command-line error.
extern const char kUsage[];

// Parses --mindir_path=F --input_path=D --output_path=D [--device_id=N] (also "--key value");
// returns false with a one-line message in *error for unknown, missing or malformed options.
bool ParseOptions(int argc, char **argv, RunnerOptions *options, std::string *error);

// Regular files in `folder` whose names end with `suffix`, as full paths, sorted by name.
bool ListFiles(const std::string &folder, const std::string &suffix, std::vector<std::string> *files,
               std::string *error);

// Whole file into *data.
bool ReadFile(const std::string &path, std::vector<char> *data, std::string *error);

// Writes `size` bytes to a temporary file next to `path`, then renames it over `path` (atomic).
bool WriteFileAtomic(const std::string &path, const void *data, size_t size, std::string *error);

// mkdir -p.
bool MakeDirs(const std::string &path, std::string *error);

// "dir/name.bin" -> "name".
std::string FileStem(const std::string &path);

std::string JoinPath(const std::string &folder, const std::string &name);

#endif  // CENTERFACE_ASCEND310_INFER_INC_UTILS_H_
