"""CenterFace (MobileNetV2 + FPN neck, WIDER FACE, 5 landmarks): the parts only this model has."""
