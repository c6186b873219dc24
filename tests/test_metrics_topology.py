"""clDice as a metric and the Betti-0 error: hand values on tiny masks (1-voxel-wide lines, whose skeleton is the
line itself), the authors' metric (jocpae/clDice ``cldice_metric/cldice.py`` at 07fe900, transcribed below) on
thick tubes, and component counts against cc3d."""

import cc3d
import numpy as np
import pytest
from skimage.morphology import skeletonize

from scripts.data.synthetic_tubes import make_tube_volume
from scripts.metrics import betti0, betti0_error, cldice_score, topology_precision_sensitivity


def authors_cldice(v_p, v_l):
    """jocpae/clDice 07fe900 ``clDice`` (``skeletonize_3d`` is ``skeletonize`` on 3D input since scikit-image
    0.23); its ``tprec`` is the paper's Tsens, the harmonic mean is the same."""

    def cl_score(v, s):
        return np.sum(v * s) / np.sum(s)

    tprec = cl_score(v_p, skeletonize(v_l))
    tsens = cl_score(v_l, skeletonize(v_p))
    return 2 * tprec * tsens / (tprec + tsens)


def test_half_a_line_2d_by_hand():
    ref = np.zeros((12, 14), bool)
    ref[5, 2:12] = True  # 10 pixels
    pred = np.zeros_like(ref)
    pred[5, 2:7] = True  # the first 5 of them
    # Tprec: the predicted centreline (5 px) lies in the reference: 1; Tsens: 5 of the 10 reference px covered
    assert topology_precision_sensitivity(pred, ref) == (1.0, 0.5)
    assert cldice_score(pred, ref) == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert betti0_error(pred, ref) == 0


def test_broken_line_and_a_distractor_3d_by_hand():
    ref = np.zeros((14, 7, 7), bool)
    ref[2:12, 3, 3] = True  # a 10-voxel line
    pred = ref.copy()
    pred[6:8, 3, 3] = False  # a gap of 2: 8 voxels in 2 pieces
    pred[5, 0, 0] = True  # an isolated false-positive voxel
    tprec, tsens = 8 / 9, 8 / 10
    assert topology_precision_sensitivity(pred, ref) == pytest.approx((tprec, tsens))
    assert cldice_score(pred, ref) == pytest.approx(2 * tprec * tsens / (tprec + tsens))  # 16/19
    assert cldice_score(pred, ref) == pytest.approx(16 / 19)
    assert betti0(pred) == 3 and betti0(ref) == 1 and betti0_error(pred, ref) == 2


def test_connectivity_is_full_unless_asked():
    diagonal = np.zeros((4, 4, 4), bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = True  # corner neighbours: one component at 26, two at 6
    assert betti0(diagonal) == 1 and betti0(diagonal, connectivity=1) == 2
    assert betti0(diagonal, connectivity=2) == 2  # 18-connectivity: edges, not corners
    with pytest.raises(ValueError, match="connectivity"):
        betti0(diagonal, connectivity=4)


def test_empty_masks():
    empty, line = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    line[4, 1:7] = True
    assert cldice_score(empty, empty) == 1.0
    assert cldice_score(empty, line) == 0.0 and cldice_score(line, empty) == 0.0
    assert betti0_error(empty, line) == 1


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shape", [(32, 32, 32), (48, 48)])
def test_against_the_authors_metric_and_cc3d_on_tubes(seed, shape):
    rng = np.random.default_rng(seed)
    _, ref = make_tube_volume(rng, shape, n_trees=2)
    _, other = make_tube_volume(rng, shape, n_trees=3)
    ref = ref.astype(bool)
    pred = ref.copy()
    pred.flat[rng.choice(pred.size, 20, replace=False)] ^= True  # flips: holes, and speckle components
    pred |= other.astype(bool)  # plus three spurious trees
    assert 0 < cldice_score(pred, ref) < 1
    assert cldice_score(pred, ref) == pytest.approx(authors_cldice(pred, ref), abs=1e-12)
    full = 26 if len(shape) == 3 else 8
    counts = [int(cc3d.connected_components(m.astype(np.uint8), connectivity=full).max()) for m in (pred, ref)]
    assert betti0_error(pred, ref) == abs(counts[0] - counts[1])
    assert betti0_error(pred, ref) > 0


def test_perfect_prediction():
    _, ref = make_tube_volume(np.random.default_rng(1), (32, 32, 32))
    assert cldice_score(ref, ref) == 1.0 and betti0_error(ref, ref) == 0


@pytest.mark.parametrize(
    ("pred", "ref", "match"),
    [
        (np.zeros((4, 4)), np.zeros((4, 5)), "same shape"),
        (np.zeros((4,)), np.zeros((4,)), "2D or 3D"),
        (np.full((4, 4), 0.5), np.zeros((4, 4)), "binary"),
    ],
)
def test_bad_input_is_named(pred, ref, match):
    with pytest.raises(ValueError, match=match):
        cldice_score(pred, ref)
    with pytest.raises(ValueError, match=match):
        betti0_error(pred, ref)
