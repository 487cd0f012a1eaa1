/**
 * A `score.py` of a linear model: `init` loads `model.json` (`{"w": …, "b": …}`) from
 * `AZUREML_MODEL_DIR`; `run` answers a request `{"data": [x, …]}` with
 * `{"predictions": [w * x + b, …]}`.
 */
export const LINEAR_SCORE_PY = `
import json, os
def init():
    global model
    model = json.load(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")))
def run(raw_data):
    return {"predictions": [model["w"] * x + model["b"] for x in json.loads(raw_data)["data"]]}
`;
