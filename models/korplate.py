"""korplate: the plate recogniser's network, in EasyOCR's custom-network form.

EasyOCR imports this file from ``user_network_directory`` and builds ``Model(num_class, **network_params)``
(``network_params`` come from ``korplate.yaml``). The shipped network is ``head: slots``, the
:class:`SlotModel` CNN that classifies every character position at once. ``head: crnn`` builds
EasyOCR's generation-2 CRNN instead (VGG feature extractor, two bidirectional LSTMs, a linear CTC
head), which stayed on the CTC plateau on our CPU budget. Both are self-contained here, so the shipped
model does not depend on EasyOCR's internal module layout.
"""

import torch
import torch.nn as nn


class BidirectionalLSTM(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(hidden_size * 2, output_size)

    def forward(self, x):
        try:
            self.rnn.flatten_parameters()
        except Exception:  # quantised LSTMs have no flat weights
            pass
        recurrent, _ = self.rnn(x)
        return self.linear(recurrent)


class VGGFeatureExtractor(nn.Module):
    def __init__(self, input_channel, output_channel, batch_norm=False):
        super().__init__()
        c = [output_channel // 8, output_channel // 4, output_channel // 2, output_channel]

        def conv(cin, cout, k=3, s=1, p=1, bn=batch_norm):
            if bn:
                return [
                    nn.Conv2d(cin, cout, k, s, p, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(True),
                ]
            return [nn.Conv2d(cin, cout, k, s, p), nn.ReLU(True)]

        self.ConvNet = nn.Sequential(
            *conv(input_channel, c[0]),
            nn.MaxPool2d(2, 2),
            *conv(c[0], c[1]),
            nn.MaxPool2d(2, 2),
            *conv(c[1], c[2]),
            *conv(c[2], c[2]),
            nn.MaxPool2d((2, 1), (2, 1)),
            *conv(c[2], c[3], bn=True),
            *conv(c[3], c[3], bn=True),
            nn.MaxPool2d((2, 1), (2, 1)),
            *conv(c[3], c[3], 2, 1, 0),
        )

    def forward(self, x):
        return self.ConvNet(x)


class CRNN(nn.Module):
    def __init__(
        self, num_class, input_channel=1, output_channel=128, hidden_size=128, batch_norm=False
    ):
        super().__init__()
        self.FeatureExtraction = VGGFeatureExtractor(input_channel, output_channel, batch_norm)
        self.AdaptiveAvgPool = nn.AdaptiveAvgPool2d((None, 1))
        self.SequenceModeling = nn.Sequential(
            BidirectionalLSTM(output_channel, hidden_size, hidden_size),
            BidirectionalLSTM(hidden_size, hidden_size, hidden_size),
        )
        self.Prediction = nn.Linear(hidden_size, num_class)

    def forward(self, input, text=None):
        feat = self.FeatureExtraction(input)
        feat = self.AdaptiveAvgPool(feat.permute(0, 3, 1, 2)).squeeze(3)
        seq = self.SequenceModeling(feat)
        return self.Prediction(seq.contiguous())

    def load_state_dict(self, state_dict, strict=True, assign=False):
        # The shipped weights are stored in float16 to halve the file; compute runs in float32.
        state_dict = {
            k: (v.float() if torch.is_tensor(v) and v.is_floating_point() else v)
            for k, v in state_dict.items()
        }
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


class SlotModel(nn.Module):
    """A CNN that classifies each of ``slots`` character positions at once (fast-plate-ocr style).

    Plate strings are short and laid out in a few fixed formats, so a global head that predicts
    every position directly learns far faster than a CRNN on a CPU budget. ``forward`` returns the
    slot scores interleaved with certain blanks, ``(batch, 2 * slots, num_class)``, so EasyOCR's
    greedy CTC decoding (and ours) reads the slots in order and keeps repeated characters.
    """

    def __init__(
        self,
        num_class,
        input_channel=1,
        slots=9,
        width=128,
        img_h=32,
        img_w=160,
        hidden=256,
        last_pool_w=2,
    ):
        super().__init__()
        w = [width // 4, width // 2, width * 3 // 4, width]

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        self.features = nn.Sequential(
            *block(input_channel, w[0]),
            nn.MaxPool2d(2, 2),
            *block(w[0], w[1]),
            nn.MaxPool2d(2, 2),
            *block(w[1], w[2]),
            *block(w[2], w[2]),
            nn.MaxPool2d(2, 2),
            *block(w[2], w[3]),
            *block(w[3], w[3]),
            # last_pool_w=1 keeps twice the columns for the head: finer positions for the slots.
            nn.MaxPool2d((2, last_pool_w), (2, last_pool_w)),
        )
        self.slots = slots
        self.num_class = num_class
        cols = img_w // (8 * last_pool_w)
        # Identity at the trained input size; lets EasyOCR's own recognize() (any width) still run.
        self.pool = nn.AdaptiveAvgPool2d((img_h // 16, cols))
        flat = w[3] * (img_h // 16) * cols
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(flat, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, slots * num_class),
        )

    def slot_logits(self, input):
        # float(): under bfloat16 autocast the convolutions run in bfloat16 while the head, which
        # EasyOCR quantises to int8, needs float32 inputs.
        pooled = self.pool(self.features(input)).float()
        return self.head(pooled).view(-1, self.slots, self.num_class)

    def forward(self, input, text=None):
        logits = self.slot_logits(input)
        blank = torch.full_like(logits, -30.0)
        blank[:, :, 0] = 30.0
        return torch.stack([logits, blank], dim=2).flatten(1, 2)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        state_dict = {
            k: (v.float() if torch.is_tensor(v) and v.is_floating_point() else v)
            for k, v in state_dict.items()
        }
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def Model(num_class, head="slots", **params):
    """What EasyOCR builds from ``korplate.yaml``: ``head`` picks the slot CNN or the CRNN."""
    if head == "slots":
        return SlotModel(num_class, **params)
    return CRNN(num_class, **params)
