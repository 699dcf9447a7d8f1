"""The synthetic fine-tuning recipes of CenterFace, in one place.

* `demo`: what `make demo` runs (scripts/demo.py) and README's demo table reports;
* `e2e`: its smaller sibling run by tests/test_synthetic_convergence.py (same settings, fewer images and steps).

benchmarks/kernel_training_seeds.py measures both over seeds, backends and one-ulp-moved starts; the numbers
README and the tests state come from those measurements. A recipe is the synthetic data set
(`src.data.synthetic.generate` arguments) and the train.py flags fine-tuning the official weights on it.
"""
__all__ = ["RECIPES", "train_flags"]

# Fine-tuning settings shared by both recipes (README "What `make demo` shows" says why each is there).
_FINE_TUNING = {"lr_scheduler": "cosine", "lr": 5e-4}

RECIPES = {
    "demo": {"data": {"num_train": 300, "num_val": 60, "seed": 0, "image_size": 320},
             "train": {**_FINE_TUNING, "epochs": 3, "train_size": "320,320", "batch_size": 8, "log_interval": 10}},
    "e2e": {"data": {"num_train": 64, "num_val": 16, "seed": 3, "image_size": 256},
            "train": {**_FINE_TUNING, "epochs": 3, "train_size": "256,256", "batch_size": 4, "warmup_epochs": 0.5,
                      "log_interval": 4}},
}


def train_flags(recipe, **overrides):
    """train.py's command-line flags of `recipe` (a RECIPES key), with `overrides` ({key: value}) applied."""
    settings = {**RECIPES[recipe]["train"], **overrides}
    flags = []
    for key, value in settings.items():
        flags += [f"--{key}", str(value)]
    return flags
