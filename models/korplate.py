"""korplate: the plate recogniser's network, in EasyOCR's custom-network form.

EasyOCR imports this file from ``user_network_directory`` and builds ``Model(num_class, **network_params)``
(``network_params`` come from ``korplate.yaml``). The architecture is EasyOCR's generation-2 CRNN (VGG
feature extractor, two bidirectional LSTMs, a linear CTC head), kept here self-contained so the shipped
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
                return [nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
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


class Model(nn.Module):
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
