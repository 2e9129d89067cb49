"""Class names: aliases, dataset presets, mappings."""
import pytest

from vega_mm.anchors import (DATASET_CLASSES, canonical_emotion, parse_class_list,
                             parse_class_mapping, resolve_class_order)


@pytest.mark.parametrize('name, canon', [
    ('Happy', 'happy'), ('joy', 'happy'), ('HAPPINESS', 'happy'), ('anger', 'angry'),
    (' Angry ', 'angry'), ('sadness', 'sad'), ('surprised', 'surprise'), ('Fearful', 'fear'),
    ('frustrated', 'frustration'), ('boredom', 'boredom')])
def test_aliases(name, canon):
    assert canonical_emotion(name) == canon


def test_parse_class_list():
    assert parse_class_list(None) is None
    assert parse_class_list('IEMOCAP') == list(DATASET_CLASSES['iemocap'])
    assert parse_class_list('meld') == ['neutral', 'surprise', 'fear', 'sadness', 'joy',
                                        'disgust', 'anger']
    assert parse_class_list('happy, sad ,neutral') == ['happy', 'sad', 'neutral']
    assert parse_class_list(('a', 'b')) == ['a', 'b']
    with pytest.raises(ValueError, match="'happy' and 'joy' are the same class"):
        parse_class_list('happy,joy')
    with pytest.raises(ValueError, match='empty'):
        parse_class_list(' , ')


def test_parse_class_mapping():
    want = {'excited': 'happy', 'frustration': 'angry'}
    assert parse_class_mapping(None) == {}
    assert parse_class_mapping(want) == want
    assert parse_class_mapping('excited=happy,frustration=angry') == want
    assert parse_class_mapping(['excited=happy', ' frustration = angry ']) == want
    with pytest.raises(ValueError, match="'excited:happy'"):
        parse_class_mapping(['excited:happy'])
    with pytest.raises(ValueError, match='to itself'):
        parse_class_mapping({'joy': 'happy'})


def test_resolve_class_order_lists_every_missing_class():
    available = ['Angry', 'Happy', 'Neutral', 'Sad']
    assert resolve_class_order(available, ['joy', 'anger', 'sad']) == [1, 0, 3]
    assert resolve_class_order(available, ['happy', 'excited'],
                               {'excited': 'joy'}) == [1, 1]
    with pytest.raises(KeyError) as err:
        resolve_class_order(available, ['happy', 'fear', 'excited', 'frustration'],
                            {'excited': 'happy'}, source='x.pt')
    msg = str(err.value)
    assert "['fear', 'frustration']" in msg and 'x.pt' in msg
