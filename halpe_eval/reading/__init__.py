"""Stage 1: read ground truth and predictions into numpy arrays, strictly.

- :mod:`.jsonio`: JSON bytes to Python values, whole or in bounded chunks;
- :mod:`.ground_truth`: the COCO annotation file, validated, as a GroundTruth;
- :mod:`.formats`: one adapter per prediction record format;
- :mod:`.records`: prediction records to column arrays (loadRes' area rule);
- :mod:`.image_ids`: which GT image a prediction is on (ids or file names);
- :mod:`.predictions`: the columns checked against the GT, as Predictions;
- :mod:`.parallel`: the reader that cuts a file into ranges, shared with a forked worker (:mod:`.sharing`);
- :mod:`.simd`, :mod:`.chunks`, :mod:`.fast_ground_truth`: the compiled read path (simdjson, keypoints
  straight into arrays), which leaves whatever it does not read exactly to the precise path above;
- :mod:`.messages`: how values are named in error messages.
"""
