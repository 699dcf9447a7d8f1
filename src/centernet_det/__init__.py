"""CenterNet object detection ("ctdet": DLA-34 or ResNet-18 + deformable convs, COCO instances): the parts only this
model has."""
