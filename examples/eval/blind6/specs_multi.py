"""Several-image questions for the blind6 set (pairs w41+w42 ... w69+w70, triples w71-w73 ... w83-w85).

Each entry: (scene ids, kind, question text, [flags...], meaning).
Meaning: a Python expression over Multi's namespace in world.py (S1, S2, S3, S, n, has, which, most,
fewest, premise, all, any, sum); answers.py evaluates it (answers are never typed by hand).
"""

A = ("w41", "w42")
B = ("w43", "w44")
C = ("w45", "w46")
D = ("w47", "w48")
E = ("w49", "w50")
F = ("w51", "w52")
G = ("w53", "w54")
H = ("w55", "w56")
I = ("w57", "w58")
J = ("w59", "w60")
K = ("w61", "w62")
L = ("w63", "w64")
M = ("w65", "w66")
N = ("w67", "w68")
O = ("w69", "w70")
T1 = ("w71", "w72", "w73")
T2 = ("w74", "w75", "w76")
T3 = ("w77", "w78", "w79")
T4 = ("w80", "w81", "w82")
T5 = ("w83", "w84", "w85")

MULTI = [
    # ---------------------------------------------------------------- pair A
    (A, "which_image", "Which image has a red thing in it?",
     "which(lambda s: has(s, color='red'))"),
    (A, "both_or_either", "Do both pictures contain a cyan cylinder?",
     "all(has(s, color='cyan', shape='cylinder') for s in S)"),

    # ---------------------------------------------------------------- pair B
    (B, "total", "How many brown things are there in the two images altogether?",
     "sum(n(s, color='brown') for s in S)"),
    (B, "attribute_in_image", "In the second image, what colour is the cylinder?",
     "S2.the(shape='cylinder').color"),
    (B, "compare_across", "Does the first image have more metal objects than the second?",
     "n(S1, material='metal') > n(S2, material='metal')"),

    # ---------------------------------------------------------------- pair C
    (C, "exist_in_image", "is there anything small in the first photo",
     "has(S1, size='small')"),
    (C, "compare_across", "Compared with the first photo, does the other one have more cubes?",
     "n(S2, shape='cube') > n(S1, shape='cube')"),

    # ---------------------------------------------------------------- pair D
    (D, "count_in_image", "Look at the second image. How many red things are there?",
     "n(S2, color='red')"),
    (D, "both_or_either", "Does each picture have a red cylinder?",
     "all(has(s, color='red', shape='cylinder') for s in S)"),
    (D, "attribute_in_image", "What material is the sphere in the left one?",
     "S1.the(shape='sphere').material"),

    # ---------------------------------------------------------------- pair E
    (E, "which_image", "Which image has only small objects?",
     "which(lambda s: all(o.size == 'small' for o in s.ALL))"),
    (E, "total", "How many spheres are there across both pictures?",
     "sum(n(s, shape='sphere') for s in S)"),
    (E, "exist_in_image", "Is there a gray object in the first picture?",
     "has(S1, color='gray')"),

    # ---------------------------------------------------------------- pair F
    (F, "which_image", "Which picture has more cylinders?",
     "most(lambda s: n(s, shape='cylinder'))"),
    (F, "count_in_image", "Count the green things in picture two.",
     "n(S2, color='green')"),
    (F, "compare_across", "Is the number of spheres the same in both images?",
     "n(S1, shape='sphere') == n(S2, shape='sphere')"),

    # ---------------------------------------------------------------- pair G
    (G, "both_or_either", "Do both images have a yellow sphere?",
     "all(has(s, color='yellow', shape='sphere') for s in S)"),
    (G, "total", "Total number of metal objects in the two images?",
     "sum(n(s, material='metal') for s in S)"),

    # ---------------------------------------------------------------- pair H
    (H, "which_image", "In which image is there a cube?",
     "which(lambda s: has(s, shape='cube'))"),
    (H, "exist_in_image", "Is there anything metallic in the first image?",
     "has(S1, material='metal')"),
    (H, "count_in_image", "how many yellow cylinders in the second picture",
     "n(S2, color='yellow', shape='cylinder')"),

    # ---------------------------------------------------------------- pair I
    (I, "which_image", "Which of the two scenes has more large objects?",
     "most(lambda s: n(s, size='large'))"),
    (I, "attribute_in_image", "What colour is the sphere in the second image?",
     "S2.the(shape='sphere').color"),
    (I, "both_or_either", "Is there a red cylinder in both pictures?",
     "all(has(s, color='red', shape='cylinder') for s in S)"),

    # ---------------------------------------------------------------- pair J
    (J, "compare_across", "Are there more small things in the second image than in the first?",
     "n(S2, size='small') > n(S1, size='small')"),
    (J, "exist_in_image", "The second picture has a green ball. Does the first one have a ball as well?",
     "premise(has(S2, color='green', shape='sphere'), has(S1, shape='sphere'))"),
    (J, "attribute_in_image", "What is the cube in the second image made of?",
     "S2.the(shape='cube').material"),

    # ---------------------------------------------------------------- pair K
    (K, "count_in_image", "How many spheres does the second image have?",
     "n(S2, shape='sphere')"),
    (K, "total", "Across both photos, how many cyan objects are there?",
     "sum(n(s, color='cyan') for s in S)"),

    # ---------------------------------------------------------------- pair L
    (L, "compare_across", "Does the first image have more spheres than the second?",
     "n(S1, shape='sphere') > n(S2, shape='sphere')"),
    (L, "count_in_image", "In the first image, how many green balls are there?",
     "n(S1, color='green', shape='sphere')"),
    (L, "exist_in_image", "Is there a brown object in the second image?",
     "has(S2, color='brown')"),
    (L, "both_or_either", "Is it true that neither picture has a red sphere?",
     "not any(has(s, color='red', shape='sphere') for s in S)"),

    # ---------------------------------------------------------------- pair M
    (M, "which_image", "Which image has more red things?",
     "most(lambda s: n(s, color='red'))"),
    (M, "attribute_in_image", "What shape is the purple object in the second image?",
     "S2.the(color='purple').shape"),
    (M, "total", "How many cubes are in the two images combined?",
     "sum(n(s, shape='cube') for s in S)"),

    # ---------------------------------------------------------------- pair N
    (N, "count_in_image", "How many purple objects are in the second image?",
     "n(S2, color='purple')"),
    (N, "exist_in_image", "Is there a sphere in the second image?",
     "has(S2, shape='sphere')"),
    (N, "compare_across", "Are there the same number of green objects in both pictures?",
     "n(S1, color='green') == n(S2, color='green')"),

    # ---------------------------------------------------------------- pair O
    (O, "attribute_in_image", "In the first picture, what colour is the sphere?",
     "S1.the(shape='sphere').color"),
    (O, "both_or_either", "Do both images have a yellow cylinder?",
     "all(has(s, color='yellow', shape='cylinder') for s in S)"),

    # ---------------------------------------------------------------- triple 1
    (T1, "which_image", "Which of the three images has the most objects?",
     "most(lambda s: len(s.objs))"),
    (T1, "count_in_image", "How many cyan things are in the second image?",
     "n(S2, color='cyan')"),
    (T1, "total", "How many purple objects are there in all three images?",
     "sum(n(s, color='purple') for s in S)"),

    # ---------------------------------------------------------------- triple 2
    (T2, "which_image", "Which image has only metal objects?",
     "which(lambda s: all(o.material == 'metal' for o in s.ALL))"),
    (T2, "which_image", "Which image has the fewest cylinders?",
     "fewest(lambda s: n(s, shape='cylinder'))"),
    (T2, "attribute_in_image", "What color is the sphere in the third image?",
     "S3.the(shape='sphere').color"),
    (T2, "compare_across", "Does the third image have more rubber things than the first?",
     "n(S3, material='rubber') > n(S1, material='rubber')"),

    # ---------------------------------------------------------------- triple 3
    (T3, "count_in_image", "In the third image, how many cylinders are there?",
     "n(S3, shape='cylinder')"),
    (T3, "both_or_either", "Do all three images contain a sphere?",
     "all(has(s, shape='sphere') for s in S)"),
    (T3, "exist_in_image", "Is there a red thing in the first image?",
     "has(S1, color='red')"),

    # ---------------------------------------------------------------- triple 4
    (T4, "total", "How many spheres are there in the three pictures together?",
     "sum(n(s, shape='sphere') for s in S)"),
    (T4, "attribute_in_image", "In the second image, what shape is the green object?",
     "S2.the(color='green').shape"),
    (T4, "compare_across", "are there more cylinders in the first picture than in the third",
     "n(S1, shape='cylinder') > n(S3, shape='cylinder')"),
    (T4, "both_or_either", "Is there a brown object in any of the images?",
     "any(has(s, color='brown') for s in S)"),

    # ---------------------------------------------------------------- triple 5
    (T5, "which_image", "Which image has a cylinder that is gray?",
     "which(lambda s: has(s, shape='cylinder', color='gray'))"),
    (T5, "count_in_image", "How many brown objects does the second image contain?",
     "n(S2, color='brown')"),
    (T5, "total", "Count all the cubes in the three images.",
     "sum(n(s, shape='cube') for s in S)"),
    (T5, "compare_across", "Are there fewer things in the third image than in the first?",
     "len(S3.objs) < len(S1.objs)"),
    (T5, "exist_in_image", "Is there a rubber object in the third picture?",
     "has(S3, material='rubber')"),
]
