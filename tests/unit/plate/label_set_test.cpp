#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "tools/plates/label_set.h"

#include <CppUTest/TestHarness.h>

namespace fs = std::filesystem;
using stopline::tools::loadPlateLabels;
using stopline::tools::parsePlateLabel;
using stopline::tools::PlateLabel;

namespace {

/* The message of the exception parsePlateLabel throws for a line, or "" if none. */
std::string parseError(const std::string &line)
{
    try {
        parsePlateLabel(line, "/data");
    } catch (const std::invalid_argument &e) {
        return e.what();
    }
    return "";
}

void writeFile(const fs::path &path, const std::string &text)
{
    std::ofstream out(path);
    out << text;
}

} // namespace

TEST_GROUP(PlateLabels){};

TEST(PlateLabels, ParsesTheOpenalprBenchmarkFormat)
{
    PlateLabel label = parsePlateLabel("car1.jpg\t243\t356\t115\t57\t627WWI\r\n", "/data");
    CHECK(label.image == fs::path("/data/car1.jpg"));
    CHECK(label.box == cv::Rect(243, 356, 115, 57));
    STRCMP_EQUAL("627WWI", label.text.c_str());

    PlateLabel noText = parsePlateLabel("a.jpg\t1\t2\t3\t4", "/data");
    CHECK(noText.box == cv::Rect(1, 2, 3, 4));
    CHECK(noText.text.empty());
}

TEST(PlateLabels, NamesTheFieldThatIsWrong)
{
    CHECK(parseError("car1.jpg 243 356 115 57 X").find("tab-separated") != std::string::npos);
    CHECK(parseError("car1.jpg\t2x3\t356\t115\t57").find("x is not an integer") !=
          std::string::npos);
    CHECK(parseError("car1.jpg\t243\t356\t-5\t57").find("width") != std::string::npos);
    CHECK(parseError("\t1\t2\t3\t4").find("image file name") != std::string::npos);
}

TEST(PlateLabels, BadFilesAreReportedAndTheRestKept)
{
    fs::path dir = fs::temp_directory_path() / ("plate_labels_" + std::to_string(getpid()));
    fs::create_directories(dir);
    writeFile(dir / "b.txt", "b.jpg\t10\t20\t30\t15\tBBB\n");
    writeFile(dir / "a.txt", "a.jpg\t1\t2\t3\t4\tAAA\n");
    writeFile(dir / "c.txt", "c.jpg\tten\t20\t30\t15\n");
    writeFile(dir / "notes.md", "not a label\n");

    std::vector<std::string> errors;
    std::vector<PlateLabel> labels = loadPlateLabels(dir, &errors);
    fs::remove_all(dir);

    LONGS_EQUAL(2, labels.size());
    STRCMP_EQUAL("AAA", labels[0].text.c_str()); /* sorted by file name */
    STRCMP_EQUAL("BBB", labels[1].text.c_str());
    LONGS_EQUAL(1, errors.size());
    CHECK(errors[0].find("c.txt:1") != std::string::npos);
    CHECK(errors[0].find("x is not an integer") != std::string::npos);
}
