"""COCO evaluation (person keypoints with OKS AP then person-box AP, or box AP over all categories) through
pycocotools or faster-coco-eval: `from dependency.coco.coco_eval import evaluate, write_results`."""
