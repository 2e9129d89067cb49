# Text-only VEGA on MELD with anchors that carry facial-expression meaning: the class
# anchors are 304-d features of real face images (12 FER2013 faces per emotion) from a
# small expression CNN trained on FER2013 + CK+ (what-the-face-classification, MIT; pip
# installs its weights), instead of vega_meld_text.py's seeded random anchors.
# No CLIP weights can be installed on our machines, so this is the visual encoder that
# gives VEGA's anchors real visual meaning here. The face images may overlap the CNN's
# training images; the anchors are prototypes and are never evaluated on.
# Anchors: data/anchors/meld_fer_anchor.pt, made by
#   pip install "vega_mm[fer]"
#   python tools/build_anchors.py FACES_DIR --encoder fer_cnn --classes meld \
#       --out data/anchors/meld_fer_anchor.pt
# (FACES_DIR: one subfolder of face images per emotion; MELD's class names and their
# aliases, e.g. joy = happy, are matched by name.)
_base_ = ['./vega_meld_text.py']

model = dict(
    head=dict(
        vega_head=dict(
            anchor_bank=dict(
                _delete_=True, type='AnchorBank', sample_prob=0.4,
                anchor_file='data/anchors/meld_fer_anchor.pt'))))
