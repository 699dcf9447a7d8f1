/*
 * File and command-line helpers of the CenterFace Ascend 310 runner.
 */
#include "inc/utils.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

const char kUsage[] =
    "usage: main --mindir_path=MODEL.mindir --input_path=DIR --output_path=DIR [--device_id=N]\n"
    "  Runs every DIR/<name>.bin (raw float32 network input, preprocess.py) through the MindIR on Ascend 310\n"
    "  and writes output k as <output_path>/<name>_<k>.bin (raw float32).\n";

namespace {
std::string ErrnoText() { return std::strerror(errno); }

bool ParseDeviceId(const std::string &text, uint32_t *value) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *value = static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 10));
  return true;
}
}  // namespace

bool ParseOptions(int argc, char **argv, RunnerOptions *options, std::string *error) {
  std::map<std::string, std::string *> text_options = {{"--mindir_path", &options->mindir_path},
                                                       {"--input_path", &options->input_path},
                                                       {"--output_path", &options->output_path}};
  std::string device_id;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string key = arg;
    std::string value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      key = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    } else if (i + 1 < argc) {
      value = argv[++i];
      has_value = true;
    }
    if (key != "--device_id" && text_options.count(key) == 0) {
      *error = "unknown option '" + key + "'";
      return false;
    }
    if (!has_value || value.empty()) {
      *error = "option " + key + " needs a value";
      return false;
    }
    if (key == "--device_id") {
      device_id = value;
    } else {
      *text_options[key] = value;
    }
  }
  for (const char *key : {"--mindir_path", "--input_path", "--output_path"}) {
    if (text_options[key]->empty()) {
      *error = std::string("missing required option ") + key;
      return false;
    }
  }
  if (!device_id.empty() && !ParseDeviceId(device_id, &options->device_id)) {
    *error = "--device_id '" + device_id + "' is not a non-negative integer";
    return false;
  }
  return true;
}

bool ListFiles(const std::string &folder, const std::string &suffix, std::vector<std::string> *files,
               std::string *error) {
  DIR *dir = opendir(folder.c_str());
  if (dir == nullptr) {
    *error = folder + ": cannot open folder (" + ErrnoText() + ")";
    return false;
  }
  files->clear();
  for (struct dirent *entry = readdir(dir); entry != nullptr; entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    std::string path = JoinPath(folder, name);
    struct stat info;
    if (stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
      files->push_back(path);
    }
  }
  closedir(dir);
  std::sort(files->begin(), files->end());
  return true;
}

bool ReadFile(const std::string &path, std::vector<char> *data, std::string *error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    *error = path + ": cannot open (" + ErrnoText() + ")";
    return false;
  }
  std::streamsize size = in.tellg();
  in.seekg(0, std::ios::beg);
  data->resize(static_cast<size_t>(size));
  if (size > 0 && !in.read(data->data(), size)) {
    *error = path + ": read failed";
    return false;
  }
  return true;
}

bool WriteFileAtomic(const std::string &path, const void *data, size_t size, std::string *error) {
  std::string tmp = path + ".part" + std::to_string(static_cast<long>(getpid()));
  FILE *out = std::fopen(tmp.c_str(), "wb");
  if (out == nullptr) {
    *error = tmp + ": cannot create (" + ErrnoText() + ")";
    return false;
  }
  bool ok = size == 0 || std::fwrite(data, 1, size, out) == size;
  ok = (std::fclose(out) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": write failed (" + ErrnoText() + ")";
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

bool MakeDirs(const std::string &path, std::string *error) {
  std::string partial;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    partial = path.substr(0, slash);
    if (!partial.empty() && mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = partial + ": cannot create folder (" + ErrnoText() + ")";
      return false;
    }
    start = slash + 1;
  }
  struct stat info;
  if (stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    *error = path + ": not a folder";
    return false;
  }
  return true;
}

std::string FileStem(const std::string &path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

std::string JoinPath(const std::string &folder, const std::string &name) {
  if (folder.empty() || folder.back() == '/') {
    return folder + name;
  }
  return folder + "/" + name;
}
