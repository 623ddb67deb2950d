"""ClientApp: one SuperNode per subject (node config `partition-id` 0-9 → subject 1-10, `data-dir`)."""

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from flowerbench import task

app = ClientApp()


def _data(context: Context):
    return task.load_client(str(context.node_config["data-dir"]), int(context.node_config["partition-id"]) + 1)


@app.train()
def train(msg: Message, context: Context) -> Message:
    train_x, train_y, _, _ = _data(context)
    steps = int(context.run_config["local-steps"])
    params = task.train(msg.content["arrays"].to_numpy_ndarrays(), train_x, train_y, steps,
                        float(context.run_config["learning-rate"]), int(msg.content["config"]["server-round"]))
    # FedAvg weighs each update by "num-examples": the samples trained on (200 for every client).
    content = RecordDict({"arrays": ArrayRecord(params), "metrics": MetricRecord({"num-examples": steps})})
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    _, _, test_x, test_y = _data(context)
    acc = task.accuracy(msg.content["arrays"].to_numpy_ndarrays(), test_x, test_y)
    metrics = MetricRecord({"accuracy": acc, "num-examples": len(test_y)})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
