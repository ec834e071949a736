"Maintainer checks of rethinkmi.training that do not belong in the notebook's prose."
from dataclasses import replace
import pytest, torch
from torch.utils.data import Subset
from rethinkmi.core import seed_everything
from rethinkmi.data import SynthFaces
from rethinkmi.models import build_classifier
from rethinkmi.train_loop import Batches, TrainOptions
from rethinkmi.training import classifier_accuracy, train_classifier
from rethinkmi.losses import topk_hits

@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1); yield; torch.set_num_threads(n)

def _data(): return SynthFaces(6, 4, size=32), SynthFaces(6, 2, size=32, first_index=4)
def _model(): seed_everything(0); return build_classifier("tiny_vgg", 6, width=4, input_size=32)

@pytest.mark.numerics
def test_dataset_path_resumes_exactly(tmp_path):
    "The DataLoader path (a Dataset without `tensors()`) also resumes to the weights of an uninterrupted run."
    train, test = _data(); train = Subset(train, range(len(train)))
    o = TrainOptions(epochs=3, lr=0.05, batch_size=8, device="cpu")
    whole = _model(); train_classifier(whole, train, test, o, schedule="cosine")
    def stop(e, h):
        if e == 1: raise InterruptedError
    with pytest.raises(InterruptedError): train_classifier(_model(), train, test, replace(o, ckpt_path=tmp_path/"c.pt", callback=stop), schedule="cosine")
    resumed = _model(); train_classifier(resumed, train, test, replace(o, ckpt_path=tmp_path/"c.pt"), schedule="cosine")
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()): assert torch.equal(a, b)

def test_bad_schedule_and_shapes():
    train, test = _data()
    with pytest.raises(ValueError, match="schedule must be 'onecycle', 'cosine' or 'step', got 'linear'"):
        train_classifier(_model(), train, test, TrainOptions(1, device="cpu"), schedule="linear")
    with pytest.raises(ValueError, match="expects N x 3 x 32 x 32 images, got"):
        train_classifier(_model(), SynthFaces(6, 2, size=16), opts=TrainOptions(1, device="cpu"))
    with pytest.raises(ValueError, match="no batch of 64 in a data set of 12 items"):
        Batches(test, 64, drop_last=True)

def test_evaluate_restores_mode():
    m = _model().train(); classifier_accuracy(m, _data()[1], device="cpu"); assert m.training
    m.eval(); classifier_accuracy(m, _data()[1], device="cpu"); assert not m.training

def test_batches_accepts_tensor_dataset():
    "A TensorDataset has a `tensors` attribute (a tuple), not a `tensors()` method: it must take the Dataset path."
    import torch
    from rethinkmi.train_loop import Batches
    ds = torch.utils.data.TensorDataset(torch.rand(5, 3, 4, 4), torch.arange(5))
    assert [len(y) for _, y in Batches(ds, 2)] == [2, 2, 1]

def test_topk_ties_count_against_the_label():
    "One tie rule for training and evaluation: a label tied with another class ranks below it."
    lg = torch.tensor([[2., 2., 0.], [0., 1., 1.], [5., 5., 5.]])
    hits = topk_hits(lg, [0, 2, 1], (1, 2, 3))
    assert hits.tolist() == [[False, False, False], [True, True, False], [True, True, True]]
    class Fixed(torch.nn.Module):
        def forward(self, x): return None, lg[:len(x)]
    r = classifier_accuracy(Fixed(), (torch.zeros(3, 3, 1, 1), torch.tensor([0, 2, 1])), device="cpu")
    assert (r["top1"], r["top5"]) == (0, 1)
