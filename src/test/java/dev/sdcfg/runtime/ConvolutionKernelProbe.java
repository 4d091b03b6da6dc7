package dev.sdcfg.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.nn.Ops;

/**
 * Run in a child JVM by {@link CpuKernelsTest}: the way a test or a tool reaches the engine without DjlRuntime
 * (an NDManager first, then a convolution through Ops), with oneDNN's verbose log on.
 */
public final class ConvolutionKernelProbe {

    private ConvolutionKernelProbe() {
    }

    public static void main(String[] args) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.ones(new Shape(1, 24, 24, 72));
            NDArray w = m.ones(new Shape(16, 24, 3, 3));
            Ops.conv2d(x, w, null, 1, 1);
            CpuKernels.State s = CpuKernels.state();
            System.out.println("probe-state isa=" + s.onednnMaxCpuIsa() + " source=" + s.onednnMaxCpuIsaSource()
                    + " onednn=" + s.onednnConvolution() + " nnpack=" + s.nnpack() + " check=" + s.selfCheck());
        }
    }
}
