package dev.sdcfg.runtime;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.cuda.CudaUtils;

/**
 * One place that starts DJL's PyTorch engine. The natives come from Maven (pytorch-native-cpu with the
 * linux-x86_64 classifier plus pytorch-jni), so nothing is downloaded; DJL_OFFLINE=true makes a mistake fail fast.
 * The CPU kernels are chosen here too, before anything runs on the engine ({@link CpuKernels}).
 */
public final class DjlRuntime {

    private static volatile Engine engine;

    private DjlRuntime() {
    }

    public static Engine engine() {
        Engine e = engine;
        if (e == null) {
            synchronized (DjlRuntime.class) {
                e = engine;
                if (e == null) {
                    if (System.getenv("DJL_OFFLINE") == null && System.getProperty("offline") == null) {
                        System.setProperty("offline", "true");
                    }
                    CpuKernels.capOneDnnIsa();
                    e = Engine.getEngine("PyTorch");
                    CpuKernels.configureLoadedEngine();
                    engine = e;
                }
            }
        }
        return e;
    }

    public static int gpuCount() {
        engine();
        return CudaUtils.getGpuCount();
    }

    /** Seeds the engine's global generator. Only the worker thread that owns the model may call this. */
    public static void seed(long seed) {
        engine();
        // torch.manual_seed takes 64 bits; Engine.setRandomSeed only an int, so call the JNI directly.
        JniUtils.setSeed(seed);
    }
}
