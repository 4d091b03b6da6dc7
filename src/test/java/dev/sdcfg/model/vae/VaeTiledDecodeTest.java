package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** diffusers' tiled_decode: tiling, blending and cropping, with a local stand-in decoder and with the demo VAE. */
class VaeTiledDecodeTest {

    /** A purely local "decoder" (nearest ×8 upsampling): overlapping tiles then agree, so tiling must be seamless. */
    private static final UnaryOperator<NDArray> NEAREST = x -> x.repeat(2, 8).repeat(3, 8);

    @Test
    void tilesOfALocalDecoderBlendBackIntoTheWholeImage() {
        try (NDManager m = DjlRuntime.engine().newBaseManager()) {
            // 37 × 29 latent cells, tiles of 16 (stride 12, blend 32 px, crop 96 px): uneven last tiles both ways
            NDArray z = m.randomNormal(new Shape(1, 4, 37, 29), DataType.FLOAT32);
            NDArray whole = NEAREST.apply(z);
            NDArray tiled = AutoencoderKL.tiledDecode(z, 16, 8, NEAREST);
            assertEquals(whole.getShape(), tiled.getShape());
            double err = Fixtures.relL2(tiled, whole);
            assertTrue(err < 1e-6, "relative L2 " + err);
            // no larger than one tile: decoded whole, the very same numbers
            NDArray small = z.get(":, :, 0:16, 0:12");
            assertEquals(0.0, Fixtures.relL2(AutoencoderKL.tiledDecode(small, 16, 8, NEAREST), NEAREST.apply(small)));
        }
    }

    @Test
    void theDemoVaeDecodesInTilesOfTheWholeImagesShapeWithTheFirstTileAsDecodedAlone() {
        try (NDManager m = DjlRuntime.engine().newBaseManager();
             AutoencoderKL vae = AutoencoderKL.load(Fixtures.model().resolve("vae"), ComputeContext.cpu(), null)) {
            NDArray z = m.randomNormal(new Shape(1, 4, 24, 20), DataType.FLOAT32);
            NDArray whole = vae.decode(z);
            NDArray tiled = vae.tiledDecode(z, 16);
            assertEquals(whole.getShape(), tiled.getShape());
            // the first tile is decoded on its own and cropped to 96 px, with nothing blended into it
            NDArray first = vae.decode(z.get(":, :, 0:16, 0:16")).get(":, :, 0:96, 0:96");
            assertEquals(0.0, Fixtures.relL2(tiled.get(":, :, 0:96, 0:96"), first));
            // elsewhere tiles have their own GroupNorm statistics, so the images differ, as they do in diffusers
            System.out.println("[vae tiling] demo VAE 24x20 latent, tiles of 16: relative L2 to the whole decode "
                    + Fixtures.relL2(tiled, whole));
        }
    }
}
