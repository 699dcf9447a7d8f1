/*
 * A MindIR of either model (CenterFace, CenterNet pose) on Ascend 310 through the MindSpore C++ inference API.
 *
 *   main --mindir_path=centerface.mindir --input_path=PRE/input --output_path=RESULT [--device_id=0]
 *
 * Every <name>.bin in --input_path (raw float32 1x3xHxW written by preprocess.py) is run through the MindIR
 * and output k (the model's heads in order: CenterFace heatmap, scale, offset, landmarks; CenterNet pose hm, wh,
 * hps, reg, hm_hp, hp_offset) is written as <output_path>/<name>_k.bin, raw float32, for postprocess.py. A file whose size does not match the model input is reported and skipped;
 * the exit code is 1 if any input failed, 2 on a usage or model-loading error.
 */
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/serialization.h"
#include "include/api/types.h"
#include "inc/utils.h"

using mindspore::Ascend310DeviceInfo;
using mindspore::Context;
using mindspore::Graph;
using mindspore::GraphCell;
using mindspore::kSuccess;
using mindspore::Model;
using mindspore::ModelType;
using mindspore::MSTensor;
using mindspore::Serialization;
using mindspore::Status;

namespace {
int Fail(const std::string &message, int code) {
  std::cerr << "error: " << message << std::endl;
  return code;
}

// Loads the MindIR and builds it for the Ascend 310 device `device_id`.
bool BuildModel(const RunnerOptions &options, Model *model, std::string *error) {
  auto context = std::make_shared<Context>();
  auto ascend310 = std::make_shared<Ascend310DeviceInfo>();
  ascend310->SetDeviceID(options.device_id);
  context->MutableDeviceInfo().push_back(ascend310);

  Graph graph;
  Status status = Serialization::Load(options.mindir_path, ModelType::kMindIR, &graph);
  if (status != kSuccess) {
    *error = options.mindir_path + ": cannot load the MindIR (" + status.ToString() + ")";
    return false;
  }
  status = model->Build(GraphCell(graph), context);
  if (status != kSuccess) {
    *error = options.mindir_path + ": cannot build the model on Ascend 310 device " +
             std::to_string(options.device_id) + " (" + status.ToString() + ")";
    return false;
  }
  return true;
}

// Runs one input file; writes <output_path>/<stem>_<k>.bin. Adds the Predict time to *milliseconds.
bool RunFile(Model *model, const MSTensor &model_input, const std::string &file, const std::string &output_path,
             double *milliseconds, std::string *error) {
  std::vector<char> data;
  if (!ReadFile(file, &data, error)) {
    return false;
  }
  if (data.size() != model_input.DataSize()) {
    *error = file + ": " + std::to_string(data.size()) + " bytes; expected " +
             std::to_string(model_input.DataSize()) + " (the model input, float32)";
    return false;
  }
  std::vector<MSTensor> inputs;
  inputs.emplace_back(model_input.Name(), model_input.DataType(), model_input.Shape(), data.data(), data.size());
  std::vector<MSTensor> outputs;
  auto start = std::chrono::steady_clock::now();
  Status status = model->Predict(inputs, &outputs);
  auto stop = std::chrono::steady_clock::now();
  *milliseconds += std::chrono::duration<double, std::milli>(stop - start).count();
  if (status != kSuccess) {
    *error = file + ": Predict failed (" + status.ToString() + ")";
    return false;
  }
  const std::string stem = FileStem(file);
  for (size_t k = 0; k < outputs.size(); ++k) {
    std::shared_ptr<const void> values = outputs[k].Data();
    const std::string path = JoinPath(output_path, stem + "_" + std::to_string(k) + ".bin");
    if (!WriteFileAtomic(path, values.get(), outputs[k].DataSize(), error)) {
      return false;
    }
  }
  return true;
}
}  // namespace

int main(int argc, char **argv) {
  RunnerOptions options;
  std::string error;
  if (!ParseOptions(argc, argv, &options, &error)) {
    std::cerr << "error: " << error << "\n" << kUsage;
    return 2;
  }
  std::vector<std::string> files;
  if (!ListFiles(options.input_path, ".bin", &files, &error)) {
    return Fail(error, 2);
  }
  if (files.empty()) {
    return Fail(options.input_path + ": no .bin files (run preprocess.py first)", 2);
  }
  if (!MakeDirs(options.output_path, &error)) {
    return Fail(error, 2);
  }
  Model model;
  if (!BuildModel(options, &model, &error)) {
    return Fail(error, 2);
  }
  std::vector<MSTensor> model_inputs = model.GetInputs();
  if (model_inputs.size() != 1) {
    return Fail(options.mindir_path + ": " + std::to_string(model_inputs.size()) + " inputs; expected 1", 2);
  }

  size_t failed = 0;
  double milliseconds = 0.0;
  for (const std::string &file : files) {
    if (!RunFile(&model, model_inputs[0], file, options.output_path, &milliseconds, &error)) {
      std::cerr << "error: " << error << "; skipped" << std::endl;
      ++failed;
    }
  }
  const size_t done = files.size() - failed;
  std::cout << "ascend310_infer: " << done << "/" << files.size() << " inputs, "
            << (done ? milliseconds / static_cast<double>(done) : 0.0) << " ms per Predict -> "
            << options.output_path << std::endl;
  return failed ? 1 : 0;
}
