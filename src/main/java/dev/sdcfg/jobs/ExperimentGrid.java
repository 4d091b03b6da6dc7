package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.image.ImageGrid;
import dev.sdcfg.pipeline.image.PngEncoder;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The titled grid PNG of an experiment, composed from its images once every generation has finished. */
final class ExperimentGrid {

    private ExperimentGrid() {
    }

    static byte[] compose(Job job) {
        List<BufferedImage> images = new ArrayList<>();
        List<String> titles = new ArrayList<>();
        List<GeneratedImage> done = job.imagesForGrid();
        for (int i = 0; i < done.size(); i++) {
            images.add(PngEncoder.decode(done.get(i).png()));
            titles.add(job.labelOf(i));
        }
        BufferedImage grid = ImageGrid.compose(images, titles, Math.max(1, job.gridColumns()));
        Map<String, String> text = new LinkedHashMap<>();
        String prompt = job.tasks().get(0).request().prompt();
        text.put("Title", "Guidance experiment: " + prompt);
        StringBuilder desc = new StringBuilder();
        for (int i = 0; i < titles.size(); i++) {
            desc.append(i).append(": ").append(titles.get(i)).append('\n');
        }
        text.put("Description", desc.toString().strip());
        text.put("Software", "sd-guidance-service");
        return PngEncoder.encode(grid, text);
    }
}
