"""The model index (model-index.yml and the configs' metafiles, OpenMMLab's format):
every file and config it names exists, and every result says how it was measured."""
import yaml

from tests.test_tools.common import REPO


def _load(path):
    with open(REPO / path) as f:
        return yaml.safe_load(f)


def test_model_index_names_existing_metafiles_and_configs():
    index = _load('model-index.yml')
    assert index['Import'], 'model-index.yml imports no metafile'
    names = set()
    for metafile in index['Import']:
        meta = _load(metafile)
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert model['In Collection'] in collections, (metafile, model['Name'])
            assert (REPO / model['Config']).is_file(), (metafile, model['Config'])
            assert model['Name'] == (REPO / model['Config']).stem
            assert model['Name'] not in names, f'{model["Name"]} listed twice'
            names.add(model['Name'])
            for result in model.get('Results') or []:
                # only numbers we measured, each with the command that measured it
                assert result['Command'].startswith('python tools/'), model['Name']
                for value in result['Metrics'].values():
                    assert 0 <= value <= 100, (model['Name'], result['Metrics'])
