"""The weight files FaceGate converts and ships itself (see README.md here); installed as `facegate.weights`."""
