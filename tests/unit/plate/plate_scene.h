#pragma once

#include <string>

#include <opencv2/core.hpp>

namespace stopline::test {

/* How to draw one synthetic rear view of a car with (or without) a licence plate. */
struct SceneSpec
{
    cv::Size size{1280, 720};
    int plateWidth = 120; /* pixels; the plate is 2:1 like a US plate */
    cv::Point plateCentre{640, 470};
    std::string text = "7ABC123";
    cv::Scalar carColor{40, 40, 45}; /* BGR */
    bool withPlate = true;
    bool simStyle = false;   /* the simulator's look: coloured border, state band */
    double noiseSigma = 3.0; /* grey levels of Gaussian noise */
    double blurSigma = 0.0;  /* optical blur, pixels */
    double rotationDeg = 0;  /* camera roll about the plate centre */
    int jpegQuality = 0;     /* re-encode as JPEG at this quality when > 0 */
    unsigned seed = 1;
};

/* A rendered scene and where its plate is (empty rect when there is none). */
struct Scene
{
    cv::Mat image;
    cv::Rect plate;
};

/* Renders road, car body, rear window, lights, bumper and the plate: light background,
 * dark characters about 45% of the plate height, as on US plates. The plate box is the
 * ground truth the locator is measured against; nothing is taken from the locator. */
Scene renderScene(const SceneSpec &spec);

} // namespace stopline::test
