#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace stopline::tools {

/* One labelled plate of a benchmark folder: the image it is in and its pixel box. */
struct PlateLabel
{
    std::filesystem::path image;
    cv::Rect box;
    std::string text;
    std::string source; /* the label file, for messages */
};

/* Parses one line of the openalpr benchmark format (`file x y w h text`, tab-separated;
 * text may be absent). Throws std::invalid_argument naming the field that is wrong, so
 * a bad file is reported rather than silently scored as a miss. */
PlateLabel parsePlateLabel(const std::string &line, const std::filesystem::path &dir);

/* Every label of a folder, in file-name order so subsets (even/odd) are reproducible.
 * A malformed label file is reported in errors and skipped; the others are kept. */
std::vector<PlateLabel> loadPlateLabels(const std::filesystem::path &dir,
                                        std::vector<std::string> *errors);

} // namespace stopline::tools
