"""FaceGate: offline face-recognition access control."""

import os

# OpenCV's own ceiling on the pixels of any image it decodes (read once, when OpenCV loads: hence here, before
# any module imports cv2). facegate.imageio checks each format's size before decoding; this catches the rest.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(260_000_000))
