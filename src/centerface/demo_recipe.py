"""The synthetic fine-tuning recipes of CenterFace, in one place.

* `demo`: what `make demo` runs (scripts/demo.py) and README's demo table reports;
* `e2e`: what tests/test_synthetic_convergence.py runs: the demo's training, tested on the first 48 of its held-out
  images (the synthetic generator draws image i from (seed, split, i), so they are the same images): the study's
  checkpoints, evaluated on those 48, give the test its bounds. Smaller training sets or fewer steps were chaotic
  (64 images at 256 px: Easy AP 0.19 to 0.90 over 3 seeds; docs/fine_tuning_stability.md).

benchmarks/kernel_training_seeds.py measures both over seeds, backends and one-ulp-moved starts; the numbers
README and the tests state come from those measurements. A recipe is the synthetic data set
(`src.data.synthetic.generate` arguments) and the train.py flags fine-tuning the official weights on it.
"""
__all__ = ["RECIPES", "train_flags"]

# Fine-tuning settings (README "What `make demo` shows" says why each is there).
_FINE_TUNING = {"freeze_bn": True, "lr": 1e-4, "warmup_epochs": 0.5, "lr_scheduler": "cosine"}

RECIPES = {
    "demo": {"data": {"num_train": 300, "num_val": 240, "seed": 0, "image_size": 320},
             "train": {**_FINE_TUNING, "epochs": 3, "train_size": "320,320", "batch_size": 8, "log_interval": 10}},
}
RECIPES["e2e"] = {"data": {**RECIPES["demo"]["data"], "num_val": 48}, "train": RECIPES["demo"]["train"]}


def train_flags(recipe, **overrides):
    """train.py's command-line flags of `recipe` (a RECIPES key), with `overrides` ({key: value}) applied."""
    settings = {**RECIPES[recipe]["train"], **overrides}
    flags = []
    for key, value in settings.items():
        flags += [f"--{key}", str(value)]
    return flags
