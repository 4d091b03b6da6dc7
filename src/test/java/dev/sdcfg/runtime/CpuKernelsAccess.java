package dev.sdcfg.runtime;

/** Lets tests in other packages reach CpuKernels' package-private switch. */
public final class CpuKernelsAccess {

    private CpuKernelsAccess() {
    }

    public static boolean useOneDnnConvolution(boolean on) {
        return CpuKernels.useOneDnnConvolution(on);
    }

    public static CpuKernels.State state() {
        DjlRuntime.engine();
        return CpuKernels.state();
    }
}
