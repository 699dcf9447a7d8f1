"""COCO person-keypoint evaluation (OKS AP, then person-box AP) through pycocotools or faster-coco-eval:
`from dependency.coco.keypoints_eval import evaluate, write_results`."""
