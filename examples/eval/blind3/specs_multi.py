"""Several-image questions: (scenes, kind, text, [flags...], meaning).

The meaning is a Python expression over world.Multi's namespace: S (the scenes in order), S1/S2/S3,
which(pred) (the unique image satisfying pred, answered "first"/"second"/"third"), most(fn), fewest(fn),
n(s, **attrs) (how many such objects in scene s), has(s, **attrs), all, any, sum; each scene also has the
single-image helpers (s.the, s.f, s.count, ...).
Flag "lexok": the text names attribute values on purpose that the meaning does not use.
"""

G1 = ("u41", "u42")
G2 = ("u43", "u44", "u45")
G3 = ("u46", "u47")
G4 = ("u48", "u49", "u50")
G5 = ("u51", "u52")
G6 = ("u53", "u54", "u55")
G7 = ("u56", "u57")
G8 = ("u58", "u59", "u60")
G9 = ("u61", "u62")
G10 = ("u63", "u64", "u65")
G11 = ("u66", "u67")
G12 = ("u68", "u69", "u70")
G13 = ("u71", "u72")
G14 = ("u73", "u74", "u75")
G15 = ("u76", "u77")
G16 = ("u78", "u79", "u80")
G17 = ("u81", "u82")
G18 = ("u83", "u84", "u85")

MULTI = [
    # ------------------------------------------------------------------ G1
    (G1, "which_image", "Which picture has a red cylinder?",
     "which(lambda s: has(s, color='red', shape='cylinder'))"),
    (G1, "both_or_either", "Is there a cyan cylinder in both pictures?",
     "all(has(s, color='cyan', shape='cylinder') for s in S)"),
    (G1, "compare_across", "Does the first image have more cylinders than the second?",
     "n(S1, shape='cylinder') > n(S2, shape='cylinder')"),
    (G1, "count_in_image", "how many balls are in the second picture",
     "n(S2, shape='sphere')"),
    (G1, "attribute_in_image", "In the second image, what colour is the cylinder?",
     "S2.the(shape='cylinder').color"),
    (G1, "total", "How many rubber objects are there in the two pictures altogether?",
     "sum(n(s, material='rubber') for s in S)"),

    # ------------------------------------------------------------------ G2
    (G2, "which_image", "In which of the three photos is there a yellow ball?",
     "which(lambda s: has(s, color='yellow', shape='sphere'))"),
    (G2, "which_image", "Which scene has the fewest objects in it?",
     "fewest(lambda s: s.count(s.ALL))"),
    (G2, "both_or_either", "Is there a brown sphere in every image?",
     "all(has(s, color='brown', shape='sphere') for s in S)"),
    (G2, "both_or_either", "Does at least one of the pictures contain a tiny green block?",
     "any(has(s, size='small', color='green', shape='cube') for s in S)"),
    (G2, "compare_across", "Does the third image have more metal things than the first one?",
     "n(S3, material='metal') > n(S1, material='metal')"),
    (G2, "count_in_image", "How many cubes does the last picture have?",
     "n(S3, shape='cube')"),
    (G2, "total", "How many spheres are there across all three images?",
     "sum(n(s, shape='sphere') for s in S)"),
    (G2, "attribute_in_image", "What material is the cylinder in the second image made of?",
     "S2.the(shape='cylinder').material"),

    (G2, "count_in_image", "In the last picture, how many things are to the right of the brown ball?",
     "S3.count(S3.right_of(S3.the(color='brown', shape='sphere')))"),

    # ------------------------------------------------------------------ G3
    (G3, "which_image", "Tell me which picture has something purple in it.",
     "which(lambda s: has(s, color='purple'))"),
    (G3, "both_or_either", "Do both scenes have a blue cube in them?",
     "all(has(s, color='blue', shape='cube') for s in S)"),
    (G3, "both_or_either", "Does either picture have a rubber ball?",
     "any(has(s, material='rubber', shape='sphere') for s in S)"),
    (G3, "compare_across", "Does the second image contain more metal objects than the first?",
     "n(S2, material='metal') > n(S1, material='metal')"),
    (G3, "attribute_in_image", "In the first picture, what shape is the small object?",
     "S1.the(size='small').shape"),

    (G3, "both_or_either", "The second image has a red cylinder. Does the other one have one as well?",
     "premise(has(S2, color='red', shape='cylinder'), has(S1, color='red', shape='cylinder'))"),

    # ------------------------------------------------------------------ G4
    (G4, "which_image", "Which photo shows a cyan sphere?",
     "which(lambda s: has(s, color='cyan', shape='sphere'))"),
    (G4, "which_image", "In which image are all of the objects small?",
     "which(lambda s: all(o.size == 'small' for o in s.objs))"),
    (G4, "both_or_either", "Is there a purple thing in each of the images?",
     "all(has(s, color='purple') for s in S)"),
    (G4, "compare_across", "Are there fewer cubes in the second image than in the first?",
     "n(S2, shape='cube') < n(S1, shape='cube')"),
    (G4, "total", "What is the total number of red objects in the three images?",
     "sum(n(s, color='red') for s in S)"),

    (G4, "which_image", "In which image is the blue ball in front of the red cylinder?",
     "which(lambda s: any(s.is_front(b, r) for b in s.f(color='blue', shape='sphere') for r in s.f(color='red', shape='cylinder')))"),

    # ------------------------------------------------------------------ G5
    (G5, "which_image", "Where is the cyan cube, in the first or the second picture?",
     "which(lambda s: has(s, color='cyan', shape='cube'))"),
    (G5, "both_or_either", "Do both images contain a green ball?",
     "all(has(s, color='green', shape='sphere') for s in S)"),
    (G5, "compare_across", "Are there fewer objects in the second image than in the first?",
     "S2.count(S2.ALL) < S1.count(S1.ALL)"),
    (G5, "attribute_in_image", "What colour is the big cube in the second picture?",
     "S2.the(size='large', shape='cube').color"),

    (G5, "both_or_either", "Are both pictures free of purple objects?",
     "all(not has(s, color='purple') for s in S)"),

    # ------------------------------------------------------------------ G6
    (G6, "which_image", "Which of the pictures has the most spheres?",
     "most(lambda s: n(s, shape='sphere'))"),
    (G6, "both_or_either", "Do all the images have at least one cylinder?",
     "all(has(s, shape='cylinder') for s in S)"),
    (G6, "compare_across", "Does the third image have as many objects as the first?",
     "S3.count(S3.ALL) == S1.count(S1.ALL)"),
    (G6, "count_in_image", "How many shiny things are there in the second photo?",
     "n(S2, material='metal')"),
    (G6, "attribute_in_image", "What's the material of the cube in the third image?",
     "S3.the(shape='cube').material"),

    (G6, "compare_across", "Does the second image have more spheres than the other two put together?",
     "n(S2, shape='sphere') > n(S1, shape='sphere') + n(S3, shape='sphere')"),

    # ------------------------------------------------------------------ G7
    (G7, "which_image", "Which of the two images contains a ball?",
     "which(lambda s: has(s, shape='sphere'))"),
    (G7, "both_or_either", "Do both pictures contain a brown cylinder?",
     "all(has(s, color='brown', shape='cylinder') for s in S)"),
    (G7, "both_or_either", "Do both images have something big in them?",
     "all(has(s, size='large') for s in S)"),
    (G7, "compare_across", "Does the second picture have more cylinders than the first one?",
     "n(S2, shape='cylinder') > n(S1, shape='cylinder')"),
    (G7, "total", "How many cylinders are there altogether?",
     "sum(n(s, shape='cylinder') for s in S)"),

    (G7, "which_image", "In which picture is a brown cylinder in front of a yellow cylinder?",
     "which(lambda s: any(s.is_front(b, y) for b in s.f(color='brown', shape='cylinder') for y in s.f(color='yellow', shape='cylinder')))"),
    (G7, "both_or_either", "Does at least one of the images have a metal ball?",
     "any(has(s, material='metal', shape='sphere') for s in S)"),

    # ------------------------------------------------------------------ G8
    (G8, "which_image", "In which picture is there a purple cylinder?",
     "which(lambda s: has(s, color='purple', shape='cylinder'))"),
    (G8, "which_image", "Which image has a grey block?",
     "which(lambda s: has(s, color='gray', shape='cube'))"),
    (G8, "both_or_either", "Does every picture have something red?",
     "all(has(s, color='red') for s in S)"),
    (G8, "both_or_either", "Is there a brown cube in all three images?",
     "all(has(s, color='brown', shape='cube') for s in S)"),
    (G8, "compare_across", "Does the second image have more rubber objects than the third?",
     "n(S2, material='rubber') > n(S3, material='rubber')"),
    (G8, "attribute_in_image", "What shape is the cyan rubber thing in the first image?",
     "S1.the(color='cyan', material='rubber').shape"),

    (G8, "count_in_image", "How many spheres are in the middle picture?",
     "n(S2, shape='sphere')"),
    (G8, "count_in_image", "How many things in the first picture are not metal?",
     "S1.count(S1.f(not_material='metal'))"),

    # ------------------------------------------------------------------ G9
    (G9, "both_or_either", "Do both images have a small cyan metal cube?",
     "all(has(s, size='small', color='cyan', material='metal', shape='cube') for s in S)"),
    (G9, "both_or_either", "Can you find a blue sphere in either image?",
     "any(has(s, color='blue', shape='sphere') for s in S)"),
    (G9, "compare_across", "Does the first photo have as many cyan objects as the second?",
     "n(S1, color='cyan') == n(S2, color='cyan')"),
    (G9, "count_in_image", "Count the brown things in the first image.",
     "n(S1, color='brown')"),
    (G9, "total", "How many spheres are there in the two images combined?",
     "sum(n(s, shape='sphere') for s in S)"),

    (G9, "which_image", "In which image is the cyan cube the object nearest the camera?",
     "which(lambda s: s.frontmost() is s.the(color='cyan', shape='cube'))"),
    (G9, "both_or_either", "The first picture has a large blue cube; does the other one have one too?",
     "premise(has(S1, size='large', color='blue', shape='cube'), has(S2, size='large', color='blue', shape='cube'))"),

    # ------------------------------------------------------------------ G10
    (G10, "which_image", "Which image has no spheres?",
     "which(lambda s: not has(s, shape='sphere'))"),
    (G10, "which_image", "Which image has the most red objects?",
     "most(lambda s: n(s, color='red'))"),
    (G10, "both_or_either", "Is there a gray cylinder in both the first and the second image?",
     "has(S1, color='gray', shape='cylinder') and has(S2, color='gray', shape='cylinder')"),
    (G10, "compare_across", "Does the first image have fewer metal objects than the third?",
     "n(S1, material='metal') < n(S3, material='metal')"),
    (G10, "total", "How many cubes are there in all three pictures together?",
     "sum(n(s, shape='cube') for s in S)"),

    (G10, "attribute_in_image", "In the second picture, what is the big brown thing made of?",
     "S2.the(size='large', color='brown').material"),

    # ------------------------------------------------------------------ G11
    (G11, "which_image", "Which of the pictures has a red cylinder?",
     "which(lambda s: has(s, color='red', shape='cylinder'))"),
    (G11, "both_or_either", "Do both images contain a large gray rubber cylinder?",
     "all(has(s, size='large', color='gray', material='rubber', shape='cylinder') for s in S)"),
    (G11, "compare_across", "Are there more gray objects in the first picture than in the second?",
     "n(S1, color='gray') > n(S2, color='gray')"),
    (G11, "count_in_image", "How many small objects are in the first image?",
     "n(S1, size='small')"),
    (G11, "attribute_in_image", "What color is the small cube in the second image?",
     "S2.the(size='small', shape='cube').color"),

    (G11, "both_or_either", "Is there a purple sphere in at least one of the photos?",
     "any(has(s, color='purple', shape='sphere') for s in S)"),

    # ------------------------------------------------------------------ G12
    (G12, "which_image", "In which picture are there no cubes at all?",
     "which(lambda s: not has(s, shape='cube'))"),
    (G12, "which_image", "Which image has a purple sphere?",
     "which(lambda s: has(s, color='purple', shape='sphere'))"),
    (G12, "both_or_either", "Is there a blue thing in every picture?",
     "all(has(s, color='blue') for s in S)"),
    (G12, "compare_across", "Are there more cylinders in the second image than in the first?",
     "n(S2, shape='cylinder') > n(S1, shape='cylinder')"),
    (G12, "total", "Count the brown objects in all of the images.",
     "sum(n(s, color='brown') for s in S)"),

    (G12, "attribute_in_image", "What colour is the sphere in the first picture?",
     "S1.the(shape='sphere').color"),
    (G12, "compare_across", "Do the first and the last image have the same number of objects?",
     "S1.count(S1.ALL) == S3.count(S3.ALL)"),

    # ------------------------------------------------------------------ G13
    (G13, "both_or_either", "Do both pictures have a small cyan metal block?",
     "all(has(s, size='small', color='cyan', material='metal', shape='cube') for s in S)"),
    (G13, "both_or_either", "Is there a yellow thing in either picture?",
     "any(has(s, color='yellow') for s in S)"),
    (G13, "compare_across", "Are there fewer rubber things in the first picture than in the second?",
     "n(S1, material='rubber') < n(S2, material='rubber')"),
    (G13, "count_in_image", "How many cyan objects are in the second picture?",
     "n(S2, color='cyan')"),
    (G13, "attribute_in_image", "What shape is the blue thing in the first image?",
     "S1.the(color='blue').shape"),

    # ------------------------------------------------------------------ G14
    (G14, "which_image", "In which photo is there a red sphere?",
     "which(lambda s: has(s, color='red', shape='sphere'))"),
    (G14, "which_image", "Which picture has the most cylinders?",
     "most(lambda s: n(s, shape='cylinder'))"),
    (G14, "both_or_either", "Do all of the images contain a purple cube?",
     "all(has(s, color='purple', shape='cube') for s in S)"),
    (G14, "compare_across", "Does the third picture have more cubes than the second?",
     "n(S3, shape='cube') > n(S2, shape='cube')"),
    (G14, "total", "How many yellow things are in the three images altogether?",
     "sum(n(s, color='yellow') for s in S)"),

    (G14, "compare_across", "Are there more cylinders in the second picture than in the first and third put together?",
     "n(S2, shape='cylinder') > n(S1, shape='cylinder') + n(S3, shape='cylinder')"),

    # ------------------------------------------------------------------ G15
    (G15, "which_image", "Which image has only metal objects?",
     "which(lambda s: all(o.material == 'metal' for o in s.objs))"),
    (G15, "both_or_either", "Do both pictures have a yellow cylinder?",
     "all(has(s, color='yellow', shape='cylinder') for s in S)"),
    (G15, "compare_across", "Are there more spheres in the second image than in the first?",
     "n(S2, shape='sphere') > n(S1, shape='sphere')"),
    (G15, "attribute_in_image", "What colour is the big cylinder in the first image?",
     "S1.the(size='large', shape='cylinder').color"),

    (G15, "both_or_either", "Does either photo contain a brown ball?",
     "any(has(s, color='brown', shape='sphere') for s in S)"),
    (G15, "total", "How many objects are there in the two pictures?",
     "sum(s.count(s.ALL) for s in S)"),

    # ------------------------------------------------------------------ G16
    (G16, "which_image", "Which picture has no balls in it?",
     "which(lambda s: not has(s, shape='sphere'))"),
    (G16, "which_image", "Which image has a yellow ball?",
     "which(lambda s: has(s, color='yellow', shape='sphere'))"),
    (G16, "both_or_either", "Does every image have a green object?",
     "all(has(s, color='green') for s in S)"),
    (G16, "compare_across", "Does the last picture have more cubes than the first?",
     "n(S3, shape='cube') > n(S1, shape='cube')"),
    (G16, "total", "How many metal objects are there in all the pictures combined?",
     "sum(n(s, material='metal') for s in S)"),

    (G16, "count_in_image", "In the third image, how many objects are not rubber?",
     "S3.count(S3.f(not_material='rubber'))"),

    # ------------------------------------------------------------------ G17
    (G17, "both_or_either", "Do both images have a red block?",
     "all(has(s, color='red', shape='cube') for s in S)"),
    (G17, "both_or_either", "Does either image have a green ball?",
     "any(has(s, color='green', shape='sphere') for s in S)"),
    (G17, "compare_across", "Does the second image have more red things than the first?",
     "n(S2, color='red') > n(S1, color='red')"),
    (G17, "attribute_in_image", "What is the material of the green cylinder in the first picture?",
     "S1.the(color='green', shape='cylinder').material"),

    (G17, "attribute_in_image", "In the first image, what colour is the thing behind the green cylinder?",
     "S1.the(S1.behind(S1.the(color='green', shape='cylinder'))).color"),
    (G17, "both_or_either", "Does each picture have a purple thing?",
     "all(has(s, color='purple') for s in S)"),

    # ------------------------------------------------------------------ G18
    (G18, "which_image", "Which scene has a cyan ball?",
     "which(lambda s: has(s, color='cyan', shape='sphere'))"),
    (G18, "which_image", "Which picture has the fewest rubber things?",
     "fewest(lambda s: n(s, material='rubber'))"),
    (G18, "both_or_either", "Is there a brown cylinder in every picture?",
     "all(has(s, color='brown', shape='cylinder') for s in S)"),
    (G18, "compare_across", "Are there more brown things in the second image than in the first?",
     "n(S2, color='brown') > n(S1, color='brown')"),
    (G18, "count_in_image", "How many cylinders are in the last image?",
     "n(S3, shape='cylinder')"),
    (G18, "total", "How many gray objects are there across the three pictures?",
     "sum(n(s, color='gray') for s in S)"),
    (G18, "count_in_image", "How many balls in the first image aren't brown?",
     "S1.count(S1.f(shape='sphere', not_color='brown'))"),
]
