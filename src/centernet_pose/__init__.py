"""CenterNet multi-person pose (DLA-34 + deformable convs, COCO keypoints): the parts only this model has."""
