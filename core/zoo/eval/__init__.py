"""Evaluation of autoencoders, generators and classifiers on a dataset's test split, over several seeds.

>>> import zoo
>>> result = zoo.evaluate("runs/dense-vae")               # or zoo.eval.evaluate
>>> result["metrics"]["fd_ratio"]                        # {"mean": ..., "std": ..., "values": [...]}
>>> zoo.eval.write_metrics(result, "runs/dense-vae")      # metrics.json + eval.json

The metric functions work on plain tensors and are public for use on your own images and features.
docs/evaluation.md defines every metric. torchmetrics and scikit-learn are imported only when needed.
"""

from zoo.eval._evaluate import NOISE_STD, evaluate, write_metrics
from zoo.eval._metrics import class_entropy, frechet_distance, precision_recall, psnr

__all__ = [
    "NOISE_STD",
    "class_entropy",
    "evaluate",
    "frechet_distance",
    "precision_recall",
    "psnr",
    "write_metrics",
]
